// Decoding images and masks with sharp, into the plain pixel arrays the pipeline works on.
//
// Formats: whatever sharp 0.35's prebuilt libvips decodes (JPEG, PNG, TIFF, WebP, GIF's first frame,
// AVIF, SVG) plus BMP through our own reader (bmp.ts; libvips has no BMP loader). The format comes from
// the bytes, never from the file extension.
//
// Images -> 8-bit RGB (RgbImage, HWC):
// - the EXIF orientation is applied (sharp's autoOrient), so pixels are in the displayed orientation;
// - an alpha channel is flattened onto WHITE (the usual display of a transparent cut-out), then dropped;
// - grayscale is replicated to RGB, 16-bit samples are reduced to 8 bits (the high byte), CMYK and
//   embedded ICC profiles are converted to sRGB.
// Masks -> one 8-bit channel (GrayImage):
// - the same EXIF orientation rule (the mask's own tag), so a mask saved with the same orientation tag
//   as its image lines up with it, as does one saved already upright without a tag;
// - alpha is flattened onto BLACK (transparent = background: a mask drawn as opaque strokes on a
//   transparent canvas keeps its object), then dropped;
// - colour masks take the MAXIMUM of R, G and B per pixel (not the luminance): a pure-red or
//   pure-blue object on black stays an object (its luminance, 76 or 29, would fall under the 128
//   threshold); for gray or white-on-black masks (R = G = B) the two rules agree exactly.
// Instance-label masks -> one integer label per pixel (LabelImage), no thresholding:
// - single-channel (8- or 16-bit) masks: the label is the sample value, exactly (16-bit kept);
// - colour masks: each distinct RGB colour is one label (r << 16 | g << 8 | b); black is background;
// - pixels with alpha 0 are background, alpha is otherwise ignored; EXIF orientation as above.
//
// Decoding uses failOn 'truncated' (sharp's default is 'warning'): a truncated file is an error,
// while the harmless warnings libjpeg emits for many real-world JPEGs ("extraneous bytes before
// marker") are not, so what PIL opens we open. Every failure is a DataError naming the file.

import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import type { Metadata, OutputInfo, Sharp } from 'sharp';
import { decodeBmp, isBmp } from './bmp.js';
import { DataError, fsDataError } from './errors.js';
import type { RgbImage } from './types.js';

export { DataError } from './errors.js';
import { errorMessage } from '../errors/error_message.js';
export type { DataErrorCode, DataProblem } from './errors.js';
export type { RgbImage } from './types.js';

/** One 8-bit channel per pixel, row-major: data[y * width + x]. */
export interface GrayImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/** One integer label per pixel (0 = background), row-major. */
export interface LabelImage {
  width: number;
  height: number;
  data: Uint32Array;
}

/** A file path, or the file's bytes. */
export type ImageSource = string | Uint8Array;

/** What the dataset scan learns about an image without keeping its pixels. */
export interface ImageInfo {
  /** Size after the EXIF orientation is applied (the size decodeImage returns). */
  width: number;
  height: number;
  /** Size as stored, before orientation. */
  storedWidth: number;
  storedHeight: number;
  /** EXIF orientation, 1 when absent. */
  orientation: number;
  /** sharp's format name ('jpeg', 'png', ...) or 'bmp'. */
  format: string;
}

const FAIL_ON = 'truncated' as const;
const WHITE = { r: 255, g: 255, b: 255 };
const BLACK = { r: 0, g: 0, b: 0 };

/** Reads a file into memory (DataError 'missing' / 'unreadable' on failure); bytes pass through. */
export async function readSource(source: ImageSource, name?: string): Promise<Buffer> {
  if (typeof source !== 'string') return Buffer.isBuffer(source) ? source : Buffer.from(source.buffer, source.byteOffset, source.byteLength);
  try {
    return await readFile(source);
  } catch (err) {
    throw fsDataError(name ?? source, err);
  }
}

function nameOf(source: ImageSource, name: string | undefined): string {
  return name ?? (typeof source === 'string' ? source : '<buffer>');
}

/** The format the leading bytes announce (JPEG, PNG, TIFF, WebP, GIF, BMP, AVIF/HEIF), if any. */
export function sniffFormat(buf: Uint8Array): string | undefined {
  const at = (i: number, bytes: number[]) => bytes.every((b, k) => buf[i + k] === b);
  const ascii = (i: number, s: string) => at(i, [...s].map((c) => c.charCodeAt(0)));
  if (at(0, [0xff, 0xd8, 0xff])) return 'jpeg';
  if (at(0, [0x89, 0x50, 0x4e, 0x47])) return 'png';
  if (at(0, [0x49, 0x49, 0x2a, 0x00]) || at(0, [0x4d, 0x4d, 0x00, 0x2a])) return 'tiff';
  if (ascii(0, 'RIFF') && ascii(8, 'WEBP')) return 'webp';
  if (ascii(0, 'GIF8')) return 'gif';
  if (ascii(0, 'BM')) return 'bmp';
  if (ascii(4, 'ftyp')) return 'heif';
  return undefined;
}

/**
 * sharp's error as a DataError: content that is no image format at all is 'unsupported_format';
 * a known format that fails to decode (including one so damaged libvips no longer recognises it,
 * e.g. a TIFF cut before its directory) is 'corrupt'.
 */
export function sharpDataError(name: string, err: unknown, what: string, buf?: Uint8Array): DataError {
  const msg = errorMessage(err).split('\n')[0]!.trim();
  const sniffed = buf ? sniffFormat(buf) : undefined;
  if (/unsupported image format/i.test(msg)) {
    if (sniffed !== undefined) return new DataError(name, `cannot decode ${what}: damaged or truncated ${sniffed.toUpperCase()} file`, 'corrupt', { cause: err });
    return new DataError(name, `not a supported image (${what}): the content is not JPEG, PNG, TIFF, WebP, GIF, AVIF or BMP`, 'unsupported_format', { cause: err });
  }
  if (/unsupported (feature|codec)|not supported/i.test(msg)) {
    // e.g. HEIC: libvips' prebuilt libheif decodes AVIF but not HEVC.
    return new DataError(name, `cannot decode ${what}${sniffed ? ` (${sniffed.toUpperCase()})` : ''}, unsupported variant: ${msg}`, 'unsupported_format', { cause: err });
  }
  return new DataError(name, `cannot decode ${what}${sniffed ? ` (${sniffed.toUpperCase()})` : ''}: ${msg}`, 'corrupt', { cause: err });
}

/** A sharp pipeline on the bytes, BMP decoded by hand first (then it has no EXIF orientation). */
function open(buf: Buffer, name: string): { img: Sharp; bmpChannels?: number } {
  if (isBmp(buf)) {
    const bmp = decodeBmp(buf, name);
    return { img: sharp(bmp.data, { raw: { width: bmp.width, height: bmp.height, channels: bmp.channels } }), bmpChannels: bmp.channels };
  }
  return { img: sharp(buf, { failOn: FAIL_ON }).autoOrient() };
}

async function toRaw(img: Sharp, name: string, what: string, buf: Uint8Array): Promise<{ data: Buffer; info: OutputInfo }> {
  try {
    return await img.raw().toBuffer({ resolveWithObject: true });
  } catch (err) {
    throw sharpDataError(name, err, what, buf);
  }
}

/** Decodes an image to 8-bit RGB (see the rules at the top of this file). */
export async function decodeImage(source: ImageSource, name?: string): Promise<RgbImage> {
  const file = nameOf(source, name);
  const buf = await readSource(source, file);
  const { img } = open(buf, file);
  const { data, info } = await toRaw(img.flatten({ background: WHITE }).toColourspace('srgb'), file, 'image', buf);
  if (info.channels !== 3) throw new DataError(file, `decoded to ${info.channels} channels, expected 3`, 'unsupported_format');
  return { width: info.width, height: info.height, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

/** Decodes a mask to one 8-bit channel (max of R, G, B for colour masks; alpha flattened onto black). */
export async function decodeMask(source: ImageSource, name?: string): Promise<GrayImage> {
  const file = nameOf(source, name);
  const buf = await readSource(source, file);
  const { img } = open(buf, file);
  const { data, info } = await toRaw(img.flatten({ background: BLACK }).toColourspace('srgb'), file, 'mask', buf);
  if (info.channels !== 3) throw new DataError(file, `mask decoded to ${info.channels} channels, expected 3`, 'unsupported_format');
  const n = info.width * info.height;
  const out = new Uint8Array(n);
  for (let i = 0, j = 0; i < n; i++, j += 3) {
    const r = data[j]!;
    const g = data[j + 1]!;
    const b = data[j + 2]!;
    out[i] = r > g ? (r > b ? r : b) : g > b ? g : b;
  }
  return { width: info.width, height: info.height, data: out };
}

/** Decodes an instance-label mask to one integer label per pixel (see the rules at the top of this file). */
export async function decodeLabelMask(source: ImageSource, name?: string): Promise<LabelImage> {
  const file = nameOf(source, name);
  const buf = await readSource(source, file);
  const { img, bmpChannels } = open(buf, file);
  let bands: number;
  let wide = false;
  if (bmpChannels !== undefined) {
    bands = bmpChannels === 4 ? 3 : bmpChannels;
  } else {
    let meta: Metadata;
    try {
      meta = await img.metadata();
    } catch (err) {
      throw sharpDataError(file, err, 'mask', buf);
    }
    const channels = meta.channels ?? 3;
    bands = meta.space === 'cmyk' ? 3 : channels - (meta.hasAlpha ? 1 : 0);
    wide = meta.depth === 'ushort' || meta.depth === 'short';
  }
  if (bands === 1) {
    const pipeline = wide ? img.toColourspace('grey16').raw({ depth: 'ushort' }) : img.toColourspace('b-w');
    const { data, info } = await toRaw(pipeline, file, 'mask', buf);
    const n = info.width * info.height;
    const c = info.channels; // 1, or 2 with alpha
    const src = wide ? new Uint16Array(data.buffer, data.byteOffset, data.byteLength >> 1) : data;
    const out = new Uint32Array(n);
    for (let i = 0; i < n; i++) out[i] = c === 2 && src[i * 2 + 1] === 0 ? 0 : src[i * c]!;
    return { width: info.width, height: info.height, data: out };
  }
  const { data, info } = await toRaw(img.toColourspace('srgb'), file, 'mask', buf);
  const n = info.width * info.height;
  const c = info.channels; // 3, or 4 with alpha
  const out = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const j = i * c;
    out[i] = c === 4 && data[j + 3] === 0 ? 0 : (data[j]! << 16) | (data[j + 1]! << 8) | data[j + 2]!;
  }
  return { width: info.width, height: info.height, data: out };
}

/**
 * Size and orientation from the header, plus a full validation decode at a small size (a JPEG
 * truncated after its header passes sharp's metadata() but fails any decode; JPEG shrink-on-load
 * makes the reduced decode several times cheaper than a full one, and it still reads every byte).
 */
export async function inspectImage(source: ImageSource, name?: string): Promise<ImageInfo> {
  const file = nameOf(source, name);
  const buf = await readSource(source, file);
  if (isBmp(buf)) {
    const bmp = decodeBmp(buf, file);
    return { width: bmp.width, height: bmp.height, storedWidth: bmp.width, storedHeight: bmp.height, orientation: 1, format: 'bmp' };
  }
  let meta: Metadata;
  try {
    meta = await sharp(buf, { failOn: FAIL_ON }).metadata();
  } catch (err) {
    throw sharpDataError(file, err, 'image', buf);
  }
  if (!meta.width || !meta.height) throw new DataError(file, 'image header has no size', 'corrupt');
  try {
    await sharp(buf, { failOn: FAIL_ON }).resize({ width: 32, height: 32, fit: 'inside' }).raw().toBuffer();
  } catch (err) {
    throw sharpDataError(file, err, 'image', buf);
  }
  const orientation = meta.orientation ?? 1;
  const swap = orientation >= 5 && orientation <= 8;
  return {
    width: meta.autoOrient?.width ?? (swap ? meta.height : meta.width),
    height: meta.autoOrient?.height ?? (swap ? meta.width : meta.height),
    storedWidth: meta.width,
    storedHeight: meta.height,
    orientation,
    format: meta.format ?? 'unknown',
  };
}

/** True when the bytes are a JPEG (lossy: unusable for instance-label masks). */
export function isJpeg(buf: Uint8Array): boolean {
  return sniffFormat(buf) === 'jpeg';
}
