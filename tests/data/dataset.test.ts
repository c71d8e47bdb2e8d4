import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import sharp from 'sharp';
import { encodeBmp } from '../../shared/data/bmp.js';
import { loadSampleFromBytes, openDataset } from '../../shared/data/dataset.js';
import { DataError } from '../../shared/data/errors.js';
import { DatasetScanError, scanDataset } from '../../shared/data/scan.js';
import { repoRoot } from '../helpers/fixtures.js';
import { encodeMask, encodeRgb, put, rgbPixels, rawSharp, tempDir } from './make_images.js';

const RINGS = path.resolve(repoRoot(), '../shared/datasets/rings');
const haveRings = existsSync(path.join(RINGS, 'train', 'images'));
const sum = (d: Uint8Array) => d.reduce((a, b) => a + b, 0);

describe('the rings dataset', { skip: haveRings ? false : `no dataset at ${RINGS}` }, () => {
  for (const [split, n] of [
    ['train', 8],
    ['test', 2],
  ] as const) {
    it(`${split}: scans clean and every sample loads with a non-empty mask of the image's size`, async () => {
      const ds = await openDataset({ path: path.join(RINGS, split) });
      assert.equal(ds.format, 'reference');
      assert.equal(ds.samples.length, n);
      const res = await scanDataset(ds);
      assert.equal(res.samples.length, n);
      assert.deepEqual(res.skipped, []);
      for (const ref of ds.samples) {
        assert.match(ref.id, /^images\/ring.*\.jpg$/);
        const s = await ds.load(ref);
        assert.equal(s.id, ref.id);
        assert.equal(s.image.data.length, s.image.width * s.image.height * 3);
        assert.equal(s.objects.length, 1);
        const m = s.objects[0]!;
        assert.deepEqual([m.width, m.height], [s.image.width, s.image.height], ref.id);
        const on = sum(m.data);
        assert.ok(on > 0.01 * m.data.length && on < 0.9 * m.data.length, `${ref.id}: ${on} of ${m.data.length} pixels`);
        assert.ok(m.data.every((v) => v === 0 || v === 1));
      }
    });
  }

  it('the dataset root (with splits) is refused with a hint naming them', async () => {
    await assert.rejects(openDataset({ path: RINGS }), (e: unknown) => e instanceof DataError && e.code === 'layout' && /splits test, train/.test(e.message));
  });
});

describe('openDataset', () => {
  const tmp = tempDir();
  after(tmp.remove);

  it('EXIF orientation 6 on the image and the mask rotates both', async () => {
    const d = path.join(tmp.dir, 'exif');
    // Stored 40x20: left half red, right half blue; the mask is the left quarter. Displayed (90 degrees
    // clockwise) 20x40: red on top, blue below, the mask the top quarter.
    const img = await rawSharp(rgbPixels(40, 20, (x) => (x < 20 ? [220, 20, 20] : [20, 20, 220])), 40, 20, 3).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer();
    const mask = await sharp(await encodeMask(40, 20, (x) => x < 10)).withMetadata({ orientation: 6 }).png().toBuffer();
    put(d, 'images/r.jpg', img);
    put(d, 'masks/r.png', mask);
    // The same mask without the tag, at the stored size: a size mismatch, with a hint.
    put(d, 'images/s.jpg', img);
    put(d, 'masks/s.png', await encodeMask(40, 20, (x) => x < 10));
    const ds = await openDataset({ path: d });
    const res = await scanDataset(ds, 'skip');
    assert.deepEqual(
      res.samples.map((s) => s.id),
      ['images/r.jpg'],
    );
    assert.equal(res.skipped.length, 1);
    assert.equal(res.skipped[0]!.file, path.join(d, 'masks/s.png'));
    assert.match(res.skipped[0]!.reason, /20x40.*EXIF orientation 6.*stored, unrotated size/);
    const s = await ds.load(ds.samples[0]!);
    assert.deepEqual([s.image.width, s.image.height], [20, 40]);
    const at = (x: number, y: number) => [...s.image.data.subarray((y * 20 + x) * 3, (y * 20 + x) * 3 + 3)];
    assert.ok(at(10, 5)[0]! > 150 && at(10, 5)[2]! < 80, `top is red: ${at(10, 5)}`);
    assert.ok(at(10, 35)[2]! > 150 && at(10, 35)[0]! < 80, `bottom is blue: ${at(10, 35)}`);
    const m = s.objects[0]!;
    assert.deepEqual([m.width, m.height], [20, 40]);
    for (let y = 0; y < 40; y++) for (let x = 0; x < 20; x++) assert.equal(m.data[y * 20 + x], y < 10 ? 1 : 0, `(${x},${y})`);
  });

  it('readBytes + loadSampleFromBytes give what load gives', async () => {
    const d = path.join(tmp.dir, 'bytes');
    put(d, 'images/a/1.png', await encodeRgb(5, 4, (x, y) => [x * 50, y * 60, 7]));
    put(d, 'masks/a/1.bmp', encodeBmp({ width: 5, height: 4, channels: 1, data: new Uint8Array(20).map((_, i) => (i % 5 < 2 ? 255 : 0)) }));
    const ds = await openDataset({ path: d, format: 'reference' });
    assert.deepEqual(
      ds.samples.map((s) => s.id),
      ['images/a/1.png'],
    );
    const direct = await ds.load(ds.samples[0]!);
    const bytes = await ds.readBytes(ds.samples[0]!);
    assert.equal(bytes.format, 'reference');
    assert.ok(Buffer.isBuffer(bytes.image) && Buffer.isBuffer(bytes.mask));
    const viaBytes = await loadSampleFromBytes({ ...bytes, image: Buffer.from(bytes.image), mask: Buffer.from(bytes.mask!) });
    assert.deepEqual(viaBytes, direct);
    assert.equal(sum(direct.objects[0]!.data), 8);
  });

  it('clear errors: missing directory, a file, no images, unknown layout', async () => {
    const missing = path.join(tmp.dir, 'nowhere');
    await assert.rejects(openDataset({ path: missing }), (e: unknown) => e instanceof DataError && e.code === 'missing' && e.file === missing && /not found/.test(e.message));
    const file = put(tmp.dir, 'file.txt', 'x');
    await assert.rejects(openDataset({ path: file }), (e: unknown) => e instanceof DataError && e.code === 'layout');
    const empty = path.join(tmp.dir, 'empty');
    put(empty, 'images/readme.txt', 'x');
    put(empty, 'masks/m.png', await encodeMask(2, 2, () => true));
    await assert.rejects(openDataset({ path: empty }), (e: unknown) => e instanceof DataError && e.code === 'no_images' && /no images found/.test(e.message));
    const odd = path.join(tmp.dir, 'odd');
    put(odd, 'pictures/a.jpg', 'x');
    await assert.rejects(openDataset({ path: odd }), (e: unknown) => e instanceof DataError && e.code === 'layout' && /cannot tell the dataset format.*pictures/.test(e.message));
    await assert.rejects(openDataset({ path: odd, format: 'reference' }), (e: unknown) => e instanceof DataError && /no images\/ or masks\/ directory/.test(e.message));
    await assert.rejects(openDataset({ path: odd, format: 'coco' }), (e: unknown) => e instanceof DataError && /no COCO annotation file found/.test(e.message));
  });

  it('an image without a mask is listed by the scan, not thrown by openDataset', async () => {
    const d = path.join(tmp.dir, 'nomask');
    put(d, 'images/a.png', await encodeRgb(3, 3, () => [1, 2, 3]));
    put(d, 'masks/b.png', await encodeMask(3, 3, () => true));
    const ds = await openDataset({ path: d });
    assert.equal(ds.samples.length, 1);
    await assert.rejects(scanDataset(ds), (e: unknown) => {
      assert.ok(e instanceof DatasetScanError);
      assert.match(e.message, /images\/a\.png: image has no mask \(expected masks\/a\.<ext>\)/);
      assert.match(e.message, /masks\/b\.png: mask has no image/);
      return true;
    });
  });
});
