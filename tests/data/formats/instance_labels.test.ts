import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import sharp from 'sharp';
import { openDataset } from '../../../shared/data/dataset.js';
import { DataError } from '../../../shared/data/errors.js';
import { readInstanceMasks } from '../../../shared/data/formats/instance_labels.js';
import { scanDataset } from '../../../shared/data/scan.js';
import { encodeGray, encodeRgb, put, tempDir } from '../make_images.js';

describe('instance-label masks', () => {
  const tmp = tempDir();
  after(tmp.remove);

  it('three labels give three objects, with their labels', async () => {
    const d = path.join(tmp.dir, 'inst');
    put(d, 'images/one.jpg', await encodeRgb(6, 4, () => [90, 120, 150], 'jpeg'));
    // Labels 1 (left column), 2 (top right corner), 7 (bottom row, right half).
    put(d, 'masks/one.png', await encodeGray(6, 4, (x, y) => (x === 0 ? 1 : y === 0 && x === 5 ? 2 : y === 3 && x >= 3 ? 7 : 0)));
    const ds = await openDataset({ path: d, format: 'instance' });
    assert.equal(ds.format, 'instance');
    assert.equal((await scanDataset(ds)).samples.length, 1);
    const s = await ds.load(ds.samples[0]!);
    assert.deepEqual(
      s.objects.map((o) => [o.label, o.data.reduce((a, b) => a + b, 0)]),
      [
        [1, 4],
        [2, 1],
        [7, 3],
      ],
    );
    assert.equal(s.objects[2]!.data[3 * 6 + 4], 1);
    // The same directory read as binary masks: one object (labels 1, 2, 7 are all < 128: empty).
    const asBinary = await openDataset({ path: d });
    await assert.rejects(asBinary.load(asBinary.samples[0]!), (e: unknown) => e instanceof DataError && e.code === 'empty_mask');
  });

  it('keeps 16-bit labels and colour labels apart', async () => {
    const l16 = await sharp(new Uint16Array([0, 1000, 1000, 40000]), { raw: { width: 2, height: 2, channels: 1 } }).toColourspace('grey16').png().toBuffer();
    const objs = await readInstanceMasks(l16, 'l16.png', { width: 2, height: 2 });
    assert.deepEqual(
      objs.map((o) => [o.label, [...o.data]]),
      [
        [1000, [0, 1, 1, 0]],
        [40000, [0, 0, 0, 1]],
      ],
    );
    const colours = await encodeRgb(3, 1, (x) => (x === 0 ? [0, 0, 0] : x === 1 ? [255, 0, 0] : [0, 255, 0]));
    assert.equal((await readInstanceMasks(colours, 'c.png', { width: 3, height: 1 })).length, 2);
  });

  it('rejects JPEG label masks and all-zero masks, naming the file', async () => {
    const jpeg = await encodeGray(4, 4, (x) => x, 'jpeg');
    await assert.rejects(readInstanceMasks(jpeg, 'l.jpg', { width: 4, height: 4 }), (e: unknown) => e instanceof DataError && e.code === 'unsupported_format' && e.file === 'l.jpg');
    const zero = await encodeGray(4, 4, () => 0);
    await assert.rejects(readInstanceMasks(zero, 'z.png', { width: 4, height: 4 }), (e: unknown) => e instanceof DataError && e.code === 'empty_mask' && e.file === 'z.png');
  });
});
