import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeBmp, encodeBmp, isBmp } from '../../shared/data/bmp.js';
import { DataError } from '../../shared/data/errors.js';

/** A BMP with a 40-byte (or larger) header, given rows top to bottom already packed, optional palette/masks. */
function bmp(opts: {
  width: number;
  height: number;
  bpp: number;
  rows: number[][];
  compression?: number;
  palette?: [number, number, number][];
  masks?: number[];
  headerSize?: number;
  topDown?: boolean;
}): Buffer {
  const headerSize = opts.headerSize ?? 40;
  const rowBytes = Math.ceil((opts.width * opts.bpp) / 32) * 4;
  const extraMasks = headerSize === 40 && opts.masks ? opts.masks.length * 4 : 0;
  const paletteBytes = (opts.palette?.length ?? 0) * 4;
  const offset = 14 + headerSize + extraMasks + paletteBytes;
  const b = Buffer.alloc(offset + rowBytes * opts.height);
  b.write('BM', 0, 'latin1');
  b.writeUInt32LE(b.length, 2);
  b.writeUInt32LE(offset, 10);
  b.writeUInt32LE(headerSize, 14);
  b.writeInt32LE(opts.width, 18);
  b.writeInt32LE(opts.topDown ? -opts.height : opts.height, 22);
  b.writeUInt16LE(1, 26);
  b.writeUInt16LE(opts.bpp, 28);
  b.writeUInt32LE(opts.compression ?? 0, 30);
  b.writeUInt32LE(opts.palette?.length ?? 0, 46);
  (opts.masks ?? []).forEach((m, i) => b.writeUInt32LE(m >>> 0, 54 + i * 4));
  (opts.palette ?? []).forEach(([r, g, bl], i) => b.set([bl, g, r, 0], 14 + headerSize + extraMasks + i * 4));
  opts.rows.forEach((row, y) => {
    const at = offset + (opts.topDown ? y : opts.height - 1 - y) * rowBytes;
    b.set(row, at);
  });
  return b;
}

describe('BMP reader', () => {
  it('round-trips 24-bit and 8-bit gray files written by encodeBmp', () => {
    const rgb = new Uint8Array(Array.from({ length: 3 * 2 * 3 }, (_, i) => i * 13));
    const a = decodeBmp(encodeBmp({ width: 3, height: 2, channels: 3, data: rgb }), 'a.bmp');
    assert.deepEqual([a.width, a.height, a.channels], [3, 2, 3]);
    assert.deepEqual([...a.data], [...rgb]);
    const gray = new Uint8Array([0, 50, 100, 150, 200, 250]);
    const g = decodeBmp(encodeBmp({ width: 3, height: 2, channels: 1, data: gray }), 'g.bmp');
    assert.equal(g.channels, 1);
    assert.deepEqual([...g.data], [...gray]);
    assert.ok(isBmp(encodeBmp({ width: 1, height: 1, channels: 1, data: new Uint8Array([0]) })));
  });

  it('reads colour palettes at 1, 4 and 8 bits', () => {
    const pal: [number, number, number][] = [
      [0, 0, 0],
      [255, 0, 0],
      [0, 0, 255],
    ];
    const one = decodeBmp(bmp({ width: 3, height: 1, bpp: 1, rows: [[0b10100000]], palette: pal.slice(0, 2) }), '1.bmp');
    assert.deepEqual([...one.data], [255, 0, 0, 0, 0, 0, 255, 0, 0]);
    const four = decodeBmp(bmp({ width: 3, height: 1, bpp: 4, rows: [[0x21, 0x00]], palette: pal }), '4.bmp');
    assert.deepEqual([...four.data], [0, 0, 255, 255, 0, 0, 0, 0, 0]);
    const eight = decodeBmp(bmp({ width: 2, height: 2, bpp: 8, rows: [[1, 2], [0, 1]], palette: pal }), '8.bmp');
    assert.deepEqual([...eight.data], [255, 0, 0, 0, 0, 255, 0, 0, 0, 255, 0, 0]);
  });

  it('reads 16-bit 5-5-5, 32-bit BI_RGB (4th byte ignored) and top-down bit fields with alpha', () => {
    const p16 = decodeBmp(bmp({ width: 2, height: 1, bpp: 16, rows: [[0x00, 0x7c, 0x1f, 0x00]] }), '16.bmp');
    assert.deepEqual([...p16.data], [255, 0, 0, 0, 0, 255]);
    const p32 = decodeBmp(bmp({ width: 1, height: 1, bpp: 32, rows: [[10, 20, 30, 0]] }), '32.bmp');
    assert.deepEqual([p32.channels, ...p32.data], [3, 30, 20, 10]);
    // BITFIELDS in a V4 (108-byte) header: R G B A masks, top-down rows.
    const masks = [0x00ff0000, 0x0000ff00, 0x000000ff, 0xff000000];
    const v4 = decodeBmp(bmp({ width: 1, height: 2, bpp: 32, compression: 3, headerSize: 108, masks, topDown: true, rows: [[1, 2, 3, 128], [4, 5, 6, 255]] }), 'v4.bmp');
    assert.deepEqual([v4.channels, ...v4.data], [4, 3, 2, 1, 128, 6, 5, 4, 255]);
    // Alpha mask present but alpha 0 everywhere: opaque RGB.
    const zero = decodeBmp(bmp({ width: 1, height: 1, bpp: 32, compression: 3, headerSize: 108, masks, rows: [[1, 2, 3, 0]] }), 'z.bmp');
    assert.deepEqual([zero.channels, ...zero.data], [3, 3, 2, 1]);
  });

  it('rejects RLE compression and truncated files with a DataError naming the file', () => {
    assert.throws(
      () => decodeBmp(bmp({ width: 2, height: 1, bpp: 8, compression: 1, rows: [[0, 0]], palette: [[0, 0, 0]] }), 'rle.bmp'),
      (e: unknown) => e instanceof DataError && e.code === 'unsupported_format' && e.file === 'rle.bmp' && /RLE/.test(e.message),
    );
    const full = encodeBmp({ width: 8, height: 8, channels: 3, data: new Uint8Array(8 * 8 * 3) });
    assert.throws(
      () => decodeBmp(full.subarray(0, full.length - 10), 'cut.bmp'),
      (e: unknown) => e instanceof DataError && e.code === 'corrupt' && e.file === 'cut.bmp',
    );
    assert.throws(() => decodeBmp(Buffer.from('BMxx'), 'tiny.bmp'), (e: unknown) => e instanceof DataError && e.code === 'corrupt');
  });
});
