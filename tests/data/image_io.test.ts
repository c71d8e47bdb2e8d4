import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import sharp from 'sharp';
import { encodeBmp } from '../../shared/data/bmp.js';
import { DataError, decodeImage, decodeLabelMask, decodeMask, inspectImage } from '../../shared/data/image_io.js';
import { encodeGray, encodeMask, encodeRgb, put, rawSharp, tempDir } from './make_images.js';

const px = (img: { width: number; data: Uint8Array }, x: number, y: number) => [...img.data.subarray((y * img.width + x) * 3, (y * img.width + x) * 3 + 3)];

async function rejectsWith(p: Promise<unknown>, code: string, file: string): Promise<DataError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof DataError, `expected a DataError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    assert.equal(err.file, file);
    assert.ok(err.message.includes(file));
    return err;
  }
  assert.fail(`expected a DataError ${code}`);
}

describe('decodeImage', () => {
  const tmp = tempDir();
  after(tmp.remove);

  it('decodes PNG, JPEG, WebP, TIFF and BMP from a path or bytes to 8-bit RGB', async () => {
    const f = (x: number, y: number): [number, number, number] => (x < 4 ? [250, 10, 10] : y < 3 ? [10, 250, 10] : [10, 10, 250]);
    for (const format of ['png', 'jpeg', 'webp', 'tiff'] as const) {
      const bytes = await encodeRgb(8, 6, f, format);
      const file = put(tmp.dir, `img.${format}`, bytes);
      for (const src of [file, bytes]) {
        const img = await decodeImage(src, file);
        assert.equal(img.width, 8);
        assert.equal(img.height, 6);
        assert.equal(img.data.length, 8 * 6 * 3);
        const tol = format === 'jpeg' ? 40 : 0;
        for (const [x, y] of [
          [0, 0],
          [7, 0],
          [7, 5],
        ] as const) {
          px(img, x, y).forEach((v, c) => assert.ok(Math.abs(v - f(x, y)[c]!) <= tol, `${format} (${x},${y}) c${c}: ${v}`));
        }
      }
    }
    const raw = Buffer.alloc(5 * 3 * 3);
    for (let i = 0; i < 15; i++) raw.set([i * 10, 255 - i * 10, 7], i * 3);
    const bmp = await decodeImage(encodeBmp({ width: 5, height: 3, channels: 3, data: raw }), 'x.bmp');
    assert.deepEqual([bmp.width, bmp.height], [5, 3]);
    assert.deepEqual(Buffer.from(bmp.data), raw);
  });

  it('converts grayscale to RGB, 16-bit to 8-bit (high byte), and flattens alpha onto white', async () => {
    const gray = await decodeImage(await encodeGray(4, 2, (x) => x * 60), 'gray.png');
    assert.deepEqual(px(gray, 3, 1), [180, 180, 180]);
    const rgb16 = await sharp(new Uint16Array([0x1234, 0xffff, 0x80ff, 0x7f00, 0x0100, 0]), { raw: { width: 2, height: 1, channels: 3 } })
      .toColourspace('rgb16')
      .png()
      .toBuffer();
    assert.equal((await sharp(rgb16).metadata()).depth, 'ushort');
    const img16 = await decodeImage(rgb16, '16.png');
    assert.deepEqual([...img16.data], [0x12, 0xff, 0x80, 0x7f, 0x01, 0]);
    const rgba = await rawSharp(Buffer.from([255, 0, 0, 0, 0, 255, 0, 255, 0, 0, 255, 128]), 3, 1, 4).png().toBuffer();
    const flat = await decodeImage(rgba, 'rgba.png');
    assert.deepEqual([...flat.data.subarray(0, 6)], [255, 255, 255, 0, 255, 0]); // transparent -> white, opaque kept
    assert.ok(Math.abs(flat.data[6]! - 127) <= 1 && Math.abs(flat.data[8]! - 255) <= 1); // half-transparent blue over white
  });

  it('applies EXIF orientation 6 (90 degrees clockwise)', async () => {
    // Stored 3x2: row 0 = R G B, row 1 = K W Y; displayed 2x3: rows (K R), (W G), (Y B).
    const data = Buffer.from([255, 0, 0, 0, 255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255, 255, 0]);
    const png = await rawSharp(data, 3, 2, 3).png().withMetadata({ orientation: 6 }).toBuffer();
    const img = await decodeImage(png, 'o6.png');
    assert.deepEqual([img.width, img.height], [2, 3]);
    assert.deepEqual(
      [...img.data],
      [0, 0, 0, 255, 0, 0, 255, 255, 255, 0, 255, 0, 255, 255, 0, 0, 0, 255],
    );
    const info = await inspectImage(png, 'o6.png');
    assert.deepEqual([info.width, info.height, info.storedWidth, info.storedHeight, info.orientation], [2, 3, 3, 2, 6]);
  });

  it('names the file in a DataError: missing, not an image, truncated JPEG', async () => {
    const missing = `${tmp.dir}/nope.jpg`;
    await rejectsWith(decodeImage(missing), 'missing', missing);
    const text = put(tmp.dir, 'text.jpg', 'this is not an image\n');
    await rejectsWith(decodeImage(text), 'unsupported_format', text);
    await rejectsWith(inspectImage(text), 'unsupported_format', text);
    // A JPEG cut at 90%: sharp's metadata() still reads the header, every decode fails.
    const noisy = Buffer.from(Array.from({ length: 64 * 48 * 3 }, (_, i) => (i * 7919) % 251));
    const jpeg = await rawSharp(noisy, 64, 48, 3).jpeg().toBuffer();
    const cut = put(tmp.dir, 'cut.jpg', jpeg.subarray(0, Math.floor(jpeg.length * 0.9)));
    assert.equal((await sharp(cut).metadata()).width, 64);
    await rejectsWith(decodeImage(cut), 'corrupt', cut);
    await rejectsWith(inspectImage(cut), 'corrupt', cut);
    await rejectsWith(decodeMask(cut), 'corrupt', cut);
    // A TIFF cut before its directory is no longer recognised by libvips: still 'corrupt', by its signature.
    const tiff = await rawSharp(noisy, 64, 48, 3).tiff({ compression: 'lzw' }).toBuffer();
    const cutTiff = put(tmp.dir, 'cut.tif', tiff.subarray(0, tiff.length >> 1));
    const e = await rejectsWith(inspectImage(cutTiff), 'corrupt', cutTiff);
    assert.match(e.message, /truncated TIFF/);
  });
});

describe('decodeMask', () => {
  it('takes the max of R, G, B (a pure red object stays an object) and flattens alpha onto black', async () => {
    const m = await decodeMask(await encodeRgb(3, 1, (x) => (x === 0 ? [255, 0, 0] : x === 1 ? [0, 0, 200] : [10, 20, 30])), 'rgb.png');
    assert.deepEqual([...m.data], [255, 200, 30]);
    const rgba = await rawSharp(Buffer.from([255, 255, 255, 0, 255, 255, 255, 255, 200, 200, 200, 255]), 3, 1, 4).png().toBuffer();
    assert.deepEqual([...(await decodeMask(rgba, 'rgba.png')).data], [0, 255, 200]);
    const ga = await rawSharp(Buffer.from([255, 0, 255, 255]), 2, 1, 2).png().toBuffer();
    assert.deepEqual([...(await decodeMask(ga, 'ga.png')).data], [0, 255]);
  });

  it('keeps gray values exactly and applies EXIF orientation like the image', async () => {
    const g = await decodeMask(await encodeGray(4, 1, (x) => [0, 127, 128, 255][x]!), 'g.png');
    assert.deepEqual([...g.data], [0, 127, 128, 255]);
    const o = await rawSharp(Buffer.from([255, 0, 0, 0, 0, 0]), 3, 2, 1).png().withMetadata({ orientation: 6 }).toBuffer();
    const m = await decodeMask(o, 'o.png');
    assert.deepEqual([m.width, m.height, ...m.data], [2, 3, 0, 255, 0, 0, 0, 0]);
    const bmp = await decodeMask(encodeBmp({ width: 2, height: 1, channels: 1, data: new Uint8Array([0, 255]) }), 'm.bmp');
    assert.deepEqual([...bmp.data], [0, 255]);
    assert.ok((await encodeMask(2, 2, () => true)).length > 0);
  });
});

describe('decodeLabelMask', () => {
  it('keeps 8- and 16-bit label values exactly', async () => {
    const l8 = await decodeLabelMask(await encodeGray(4, 1, (x) => [0, 1, 2, 255][x]!), 'l8.png');
    assert.deepEqual([...l8.data], [0, 1, 2, 255]);
    const l16 = await sharp(new Uint16Array([0, 300, 1000, 65535]), { raw: { width: 4, height: 1, channels: 1 } }).toColourspace('grey16').png().toBuffer();
    assert.deepEqual([...(await decodeLabelMask(l16, 'l16.png')).data], [0, 300, 1000, 65535]);
  });

  it('gives one label per colour for colour masks; alpha 0 is background', async () => {
    const rgb = await encodeRgb(4, 1, (x) => ([[0, 0, 0], [255, 0, 0], [0, 0, 255], [255, 0, 0]] as const)[x]! as [number, number, number]);
    assert.deepEqual([...(await decodeLabelMask(rgb, 'c.png')).data], [0, 0xff0000, 0x0000ff, 0xff0000]);
    const rgba = await rawSharp(Buffer.from([9, 9, 9, 0, 9, 9, 9, 255]), 2, 1, 4).png().toBuffer();
    assert.deepEqual([...(await decodeLabelMask(rgba, 'a.png')).data], [0, 0x090909]);
  });
});
