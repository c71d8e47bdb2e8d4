// decodeUpload: the pixel limit is checked from the header, before decoding, so a small file that
// announces a huge image is refused without allocating it.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import sharp from 'sharp';
import { decodeUpload } from '../../../tools/serve/decode_upload.js';
import { HttpError } from '../../../tools/serve/http_error.js';

/** The 54-byte headers of an uncompressed 24-bit BMP, without its pixels. */
function bmpHeader(width: number, height: number): Buffer {
  const b = Buffer.alloc(54);
  b.write('BM', 0, 'latin1');
  b.writeUInt32LE(0, 2); // the file size: readers ignore it
  b.writeUInt32LE(54, 10);
  b.writeUInt32LE(40, 14);
  b.writeInt32LE(width, 18);
  b.writeInt32LE(-height, 22); // top-down
  b.writeUInt16LE(1, 26);
  b.writeUInt16LE(24, 28);
  return b;
}

const isError = (status: number, code: string, message: RegExp) => (e: unknown) => e instanceof HttpError && e.status === status && e.code === code && message.test(e.message);

describe('decodeUpload', () => {
  it('refuses an image over the pixel limit from its header alone (BMP and PNG)', async () => {
    await assert.rejects(decodeUpload(bmpHeader(100_000, 100_000), 40e6), isError(422, 'image_too_large', /is 100000 x 100000 px \(10000 megapixels\); the server accepts at most 40 megapixels/));
    const png = await sharp({ create: { width: 50, height: 40, channels: 3, background: '#000' } }).png().toBuffer();
    await assert.rejects(decodeUpload(png, 1999), isError(422, 'image_too_large', /50 x 40 px/));
    const ok = await decodeUpload(png, 2000);
    assert.deepEqual([ok.width, ok.height, ok.data.length], [50, 40, 50 * 40 * 3]);
  });

  it('a BMP cut short is a bad image, bytes that are no image are unsupported', async () => {
    await assert.rejects(decodeUpload(bmpHeader(10, 10), 40e6), isError(422, 'bad_image', /corrupt BMP: pixel data truncated/));
    await assert.rejects(decodeUpload(Buffer.from('GIF89a'), 40e6), isError(422, 'bad_image', /GIF/));
    await assert.rejects(decodeUpload(Buffer.from('%PDF-1.7'), 40e6), isError(415, 'unsupported_image', /not a supported image/));
    await assert.rejects(decodeUpload(Buffer.alloc(0), 40e6), isError(400, 'empty_body', /empty/));
  });
});
