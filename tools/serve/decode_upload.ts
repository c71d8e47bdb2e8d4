// An uploaded image's bytes -> RGB pixels, or an HttpError saying what is wrong with them. The pixel
// count is checked from the header before anything is decoded, so a small file announcing a huge
// image (a decompression bomb) is refused without allocating its pixels.

import sharp from 'sharp';
import { isBmp } from '../../shared/data/bmp.js';
import { DataError, decodeImage, sniffFormat } from '../../shared/data/image_io.js';
import type { RgbImage } from '../../shared/data/types.js';
import { HttpError } from './http_error.js';

const NAME = 'the uploaded file';

/** Width and height from the header, or null when there is no readable header (decoding says why). */
async function headerSize(bytes: Buffer): Promise<{ width: number; height: number } | null> {
  if (isBmp(bytes)) {
    if (bytes.length < 26) return null;
    // BITMAPCOREHEADER (12 bytes) has 16-bit sizes; the later headers 32-bit, height negative when top-down.
    if (bytes.readUInt32LE(14) === 12) return { width: bytes.readUInt16LE(18), height: bytes.readUInt16LE(20) };
    return { width: Math.abs(bytes.readInt32LE(18)), height: Math.abs(bytes.readInt32LE(22)) };
  }
  try {
    const meta = await sharp(bytes, { failOn: 'truncated' }).metadata();
    return meta.width && meta.height ? { width: meta.width, height: meta.height } : null;
  } catch {
    return null;
  }
}

/** libpng's errors on a cut-off file say only "read error": say what the bytes show. */
function truncationHint(bytes: Buffer): string {
  if (sniffFormat(bytes) === 'png' && bytes.lastIndexOf('IEND') < 0) return ' (the file is cut short: it has no PNG end chunk; was the download or upload interrupted?)';
  return '';
}

function checkPixels(width: number, height: number, maxPixels: number): void {
  if (width * height > maxPixels) {
    const mp = (n: number): string => `${+(n / 1e6).toFixed(2)} megapixels`;
    throw new HttpError(422, 'image_too_large', `${NAME} is ${width} x ${height} px (${mp(width * height)}); the server accepts at most ${mp(maxPixels)}`);
  }
}

/** Decodes an upload (the rules of shared/data/image_io.ts: EXIF orientation applied, alpha on white). */
export async function decodeUpload(bytes: Buffer, maxPixels: number): Promise<RgbImage> {
  if (bytes.length === 0) throw new HttpError(400, 'empty_body', 'the request body is empty: send the image file\'s bytes');
  const size = await headerSize(bytes);
  if (size) checkPixels(size.width, size.height, maxPixels);
  let image: RgbImage;
  try {
    image = await decodeImage(bytes, NAME);
  } catch (err) {
    if (err instanceof DataError) {
      if (err.code === 'unsupported_format') throw new HttpError(415, 'unsupported_image', `${NAME}: ${err.reason}`);
      throw new HttpError(422, 'bad_image', `${NAME}: ${err.reason}${truncationHint(bytes)}`);
    }
    throw err;
  }
  if (!(image.width > 0 && image.height > 0)) throw new HttpError(422, 'bad_image', `${NAME} has no pixels (${image.width} x ${image.height})`);
  checkPixels(image.width, image.height, maxPixels);
  return image;
}
