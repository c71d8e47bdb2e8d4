// The bad-input table: each kind of broken (or merely unusual) file, generated here, gives the
// documented handling. The scan lists every problem with its file (policy 'fail': one error; 'skip':
// the good samples plus the skipped files), load() of a bad sample throws a DataError naming the file,
// and nothing else is thrown.

import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { openDataset, type Dataset } from '../../shared/data/dataset.js';
import { DataError, type DataErrorCode } from '../../shared/data/errors.js';
import { DatasetScanError, scanDataset } from '../../shared/data/scan.js';
import { encodeGray, encodeMask, encodeRgb, put, rawSharp, tempDir } from './make_images.js';

const W = 24;
const H = 16;
const square = (x: number, y: number) => x >= 4 && x < 12 && y >= 4 && y < 12;
const photo = (fmt: 'png' | 'jpeg' = 'jpeg') => encodeRgb(W, H, (x, y) => [x * 10, y * 12, 128], fmt);

interface Case {
  name: string;
  /** Files to write (relative to the dataset directory). */
  files: () => Promise<Record<string, Buffer | string>>;
  /** undefined: the sample is fine; else the problem's code and the file it names. */
  expect?: { code: DataErrorCode; file: string };
}

const CASES: Case[] = [
  { name: 'good JPEG + PNG mask', files: async () => ({ 'images/good.jpg': await photo(), 'masks/good.png': await encodeMask(W, H, square) }) },
  {
    name: 'truncated JPEG',
    files: async () => {
      const noisy = Buffer.from(Array.from({ length: W * H * 3 * 16 }, (_, i) => (i * 7919) % 251));
      const jpeg = await rawSharp(noisy, W * 4, H * 4, 3).jpeg().toBuffer();
      return { 'images/truncated.jpg': jpeg.subarray(0, Math.floor(jpeg.length * 0.8)), 'masks/truncated.png': await encodeMask(W * 4, H * 4, square) };
    },
    expect: { code: 'corrupt', file: 'images/truncated.jpg' },
  },
  {
    name: 'mask of another size',
    files: async () => ({ 'images/size.jpg': await photo(), 'masks/size.png': await encodeMask(W + 1, H, square) }),
    expect: { code: 'size_mismatch', file: 'masks/size.png' },
  },
  {
    name: 'empty mask',
    files: async () => ({ 'images/empty.jpg': await photo(), 'masks/empty.png': await encodeMask(W, H, () => false) }),
    expect: { code: 'empty_mask', file: 'masks/empty.png' },
  },
  {
    name: 'RGBA PNG image (alpha flattened onto white, then dropped)',
    files: async () => {
      const rgba = Buffer.alloc(W * H * 4);
      for (let i = 0; i < W * H; i++) rgba.set([200, 40, 40, i % 2 === 0 ? 255 : 0], i * 4);
      return { 'images/rgba.png': await rawSharp(rgba, W, H, 4).png().toBuffer(), 'masks/rgba.png': await encodeMask(W, H, square) };
    },
  },
  {
    name: '16-bit PNG image (converted to 8 bits)',
    files: async () => {
      const px = new Uint16Array(W * H * 3).map((_, i) => (i % 3 === 0 ? 0xabcd : 0x1200));
      return {
        'images/deep.png': await sharp(px, { raw: { width: W, height: H, channels: 3 } }).toColourspace('rgb16').png().toBuffer(),
        'masks/deep.png': await encodeMask(W, H, square),
      };
    },
  },
  {
    name: 'grayscale image (converted to RGB), RGB JPEG mask',
    files: async () => ({
      'images/gray.jpg': await encodeGray(W, H, (x) => x * 8, 'jpeg'),
      'masks/gray.jpg': await encodeRgb(W, H, (x, y) => (square(x, y) ? [255, 255, 255] : [0, 0, 0]), 'jpeg'),
    }),
  },
  {
    name: 'a text file named .jpg',
    files: async () => ({ 'images/text.jpg': 'not an image at all\n', 'masks/text.png': await encodeMask(W, H, square) }),
    expect: { code: 'unsupported_format', file: 'images/text.jpg' },
  },
  {
    name: 'a PNG signature followed by garbage, as the mask',
    files: async () => ({ 'images/badmask.jpg': await photo(), 'masks/badmask.png': Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]) }),
    expect: { code: 'corrupt', file: 'masks/badmask.png' },
  },
  { name: 'missing mask', files: async () => ({ 'images/nomask.jpg': await photo() }), expect: { code: 'missing_mask', file: 'images/nomask.jpg' } },
  { name: 'mask without an image', files: async () => ({ 'masks/orphan.png': await encodeMask(W, H, square) }), expect: { code: 'orphan_mask', file: 'masks/orphan.png' } },
];

describe('dataset scan: the bad-input table', () => {
  const tmp = tempDir();
  let ds: Dataset;
  const bad = CASES.filter((c) => c.expect);
  const good = CASES.filter((c) => !c.expect);
  before(async () => {
    for (const c of CASES) for (const [rel, bytes] of Object.entries(await c.files())) put(tmp.dir, rel, bytes);
    ds = await openDataset({ path: tmp.dir });
  });
  after(tmp.remove);

  it("policy 'fail' throws one DatasetScanError listing every problem with its file", async () => {
    await assert.rejects(scanDataset(ds), (e: unknown) => {
      assert.ok(e instanceof DatasetScanError, String(e));
      assert.equal(e.problems.length, bad.length, e.message);
      for (const c of bad) {
        const file = path.join(tmp.dir, c.expect!.file);
        assert.ok(e.message.includes(file), `${c.name}: ${file} not in\n${e.message}`);
        assert.ok(
          e.problems.some((p) => p.file === file && p.code === c.expect!.code),
          `${c.name}: expected ${c.expect!.code} on ${file}, got ${JSON.stringify(e.problems)}`,
        );
      }
      return true;
    });
  });

  it("policy 'skip' returns the good samples and counts each skipped file", async () => {
    const res = await scanDataset(ds, 'skip');
    assert.equal(res.samples.length, good.length);
    assert.equal(res.skipped.length, bad.length);
    assert.deepEqual(
      res.skipped.map((p) => path.relative(tmp.dir, p.file)).sort(),
      bad.map((c) => c.expect!.file).sort(),
    );
    // orphan masks belong to no sample; every other bad case skips exactly its sample.
    assert.equal(res.skippedIds.length, bad.length - 1);
  });

  it('every good sample loads (alpha, 16-bit and grayscale converted); every bad one throws a DataError naming its file', async () => {
    const res = await scanDataset(ds, 'skip');
    for (const ref of res.samples) {
      const s = await ds.load(ref);
      assert.deepEqual([s.image.width, s.image.height, s.image.data.length], [W, H, W * H * 3], ref.id);
      assert.equal(s.objects.length, 1);
      assert.equal(s.objects[0]!.data.reduce((a, b) => a + b, 0), 64, ref.id);
      if (ref.id === 'images/rgba.png') {
        assert.deepEqual([...s.image.data.subarray(0, 6)], [200, 40, 40, 255, 255, 255]); // opaque pixel, transparent one on white
      }
      if (ref.id === 'images/deep.png') assert.deepEqual([...s.image.data.subarray(0, 3)], [0xab, 0x12, 0x12]);
      if (ref.id === 'images/gray.jpg') {
        const [r, g, b] = s.image.data.subarray(3 * 10, 3 * 10 + 3);
        assert.ok(r === g && g === b && Math.abs(r! - 80) <= 3);
      }
    }
    let failures = 0;
    for (const ref of ds.samples.filter((s) => res.skippedIds.includes(s.id))) {
      const c = bad.find((x) => path.join(tmp.dir, x.expect!.file) === ref.imagePath || path.join(tmp.dir, x.expect!.file) === ref.maskPath)!;
      await assert.rejects(ds.load(ref), (e: unknown) => {
        assert.ok(e instanceof DataError, `${ref.id}: ${String(e)}`);
        assert.equal(e.code, c.expect!.code, `${ref.id}: ${e.message}`);
        assert.equal(e.file, path.join(tmp.dir, c.expect!.file));
        return true;
      });
      failures++;
    }
    assert.equal(failures, bad.length - 1);
  });

  it('reports progress and never throws for a sample that disappears after listing', async () => {
    const seen: number[] = [];
    const gone = { id: 'images/gone.jpg', imagePath: path.join(tmp.dir, 'images/gone.jpg'), maskPath: path.join(tmp.dir, 'masks/gone.png') };
    const res = await scanDataset({ ...ds, samples: [...ds.samples, gone] }, 'skip', { concurrency: 2, onProgress: (d) => seen.push(d) });
    assert.equal(seen.length, ds.samples.length + 1);
    assert.ok(res.skipped.some((p) => p.file === gone.imagePath && p.code === 'missing'));
    assert.ok(res.skipped.some((p) => p.file === gone.maskPath && p.code === 'missing'));
  });

  it("policy 'skip' with no good sample left throws", async () => {
    const only = { ...ds, samples: ds.samples.filter((s) => s.id === 'images/empty.jpg'), problems: [] };
    await assert.rejects(scanDataset(only, 'skip'), (e: unknown) => e instanceof DatasetScanError && /no usable sample/.test(e.message));
  });
});
