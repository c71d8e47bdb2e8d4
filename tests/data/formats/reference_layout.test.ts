import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { listReferenceLayout, looksLikeReferenceLayout, readBinaryMask } from '../../../shared/data/formats/reference_layout.js';
import { DataError } from '../../../shared/data/errors.js';
import { encodeMask, encodeRgb, put, tempDir } from '../make_images.js';

describe('reference layout listing', () => {
  const tmp = tempDir();
  after(tmp.remove);

  it('pairs images and masks by relative path without extension, any extension on either side', async () => {
    const d = tmp.dir;
    for (const f of ['images/a.jpg', 'images/b.PNG', 'images/sub/c.webp', 'images/x.jpg', 'images/y.jpg', 'images/y.png', 'images/z.jpg']) put(d, f, 'x');
    for (const f of ['masks/a.png', 'masks/b.jpg', 'masks/sub/c.bmp', 'masks/orphan.png', 'masks/y.png', 'masks/z.png', 'masks/z.tif']) put(d, f, 'x');
    put(d, 'images/.DS_Store', 'x');
    put(d, 'images/notes.txt', 'x');
    assert.ok(await looksLikeReferenceLayout(d));
    const l = await listReferenceLayout(d);
    assert.deepEqual(
      l.pairs.map((p) => [p.id, p.maskPath && path.relative(d, p.maskPath)]),
      [
        ['images/a.jpg', 'masks/a.png'],
        ['images/b.PNG', 'masks/b.jpg'],
        ['images/sub/c.webp', path.join('masks', 'sub', 'c.bmp')],
        ['images/x.jpg', undefined], // no mask: a sample, reported by the scan
      ],
    );
    const problems = l.problems.map((p) => [p.code, path.relative(d, p.file)]);
    assert.deepEqual(problems, [
      ['duplicate', 'images/y.jpg'],
      ['duplicate', 'images/y.png'],
      ['duplicate', 'images/z.jpg'], // two masks for z
      ['orphan_mask', 'masks/orphan.png'],
    ]);
    assert.deepEqual(
      l.ignored.map((i) => path.basename(i.file)),
      ['.DS_Store', 'notes.txt'],
    );
  });

  it('readBinaryMask: thresholds at 128, rejects empty masks and size mismatches naming the mask', async () => {
    const mask = await encodeMask(4, 3, (x) => x >= 2);
    const m = await readBinaryMask(mask, 'm.png', { width: 4, height: 3 });
    assert.deepEqual([...m.data], [0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1]);
    await assert.rejects(readBinaryMask(mask, 'm.png', { width: 3, height: 4 }), (e: unknown) => e instanceof DataError && e.code === 'size_mismatch' && e.file === 'm.png');
    const dim = await encodeRgb(4, 3, () => [127, 127, 127]);
    await assert.rejects(readBinaryMask(dim, 'dim.png', { width: 4, height: 3 }), (e: unknown) => e instanceof DataError && e.code === 'empty_mask' && e.file === 'dim.png');
  });
});
