// A small BMP reader. sharp 0.35's prebuilt libvips has no BMP loader (it decodes BMP only through
// ImageMagick, which the prebuilt binaries leave out: sharp(bmp).metadata() fails with "unsupported
// image format"), so BMP files are decoded here and handed to sharp as raw pixels.
//
// Supported: uncompressed (BI_RGB) 1/4/8-bit palette, 16-bit (5-5-5), 24-bit and 32-bit, and
// BI_BITFIELDS / BI_ALPHABITFIELDS 16/32-bit; bottom-up and top-down rows; the 12-byte OS/2 core
// header and the 40/52/56/108/124-byte Windows headers. RLE4/RLE8, JPEG/PNG-in-BMP and other
// compressions are rejected with a DataError ('unsupported_format'); data shorter than its header
// says is 'corrupt'. The 4th byte of a 32-bit BI_RGB pixel is reserved, not alpha (ignored); an alpha
// channel comes only from an alpha bit mask, and an alpha channel that is 0 everywhere is treated as
// absent (as browsers do, since many writers leave it zeroed).

import { DataError } from './errors.js';

export interface BmpImage {
  width: number;
  height: number;
  /** 1 (gray palette), 3 (RGB) or 4 (RGBA), interleaved, rows top to bottom. */
  channels: 1 | 3 | 4;
  data: Buffer;
}

const BI_RGB = 0;
const BI_RLE8 = 1;
const BI_RLE4 = 2;
const BI_BITFIELDS = 3;
const BI_ALPHABITFIELDS = 6;
const MAX_PIXELS = 0x3fff * 0x3fff; // sharp's default limitInputPixels

export function isBmp(buf: Uint8Array): boolean {
  return buf.length >= 2 && buf[0] === 0x42 && buf[1] === 0x4d; // "BM"
}

interface Field {
  mask: number;
  shift: number;
  max: number;
}

function field(mask: number): Field {
  mask >>>= 0;
  if (mask === 0) return { mask: 0, shift: 0, max: 0 };
  let shift = 0;
  while (((mask >>> shift) & 1) === 0) shift++;
  return { mask, shift, max: mask >>> shift };
}

function extract(px: number, f: Field): number {
  if (f.max === 0) return 0;
  const v = ((px & f.mask) >>> 0) >>> f.shift;
  return f.max === 255 ? v : Math.round((v * 255) / f.max);
}

export function decodeBmp(buf: Uint8Array, name: string): BmpImage {
  const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  const corrupt = (why: string) => new DataError(name, `corrupt BMP: ${why}`, 'corrupt');
  if (!isBmp(b)) throw new DataError(name, 'not a BMP file', 'unsupported_format');
  if (b.length < 26) throw corrupt('file shorter than its headers');
  const dataOffset = b.readUInt32LE(10);
  const headerSize = b.readUInt32LE(14);
  if (b.length < 14 + headerSize) throw corrupt('file shorter than its headers');
  let width: number;
  let rawHeight: number;
  let bpp: number;
  let compression = BI_RGB;
  let colorsUsed = 0;
  let paletteEntry = 4;
  if (headerSize === 12) {
    width = b.readUInt16LE(18);
    rawHeight = b.readInt16LE(20);
    bpp = b.readUInt16LE(24);
    paletteEntry = 3;
  } else if (headerSize >= 40) {
    width = b.readInt32LE(18);
    rawHeight = b.readInt32LE(22);
    bpp = b.readUInt16LE(28);
    compression = b.readUInt32LE(30);
    colorsUsed = b.readUInt32LE(46);
  } else {
    throw new DataError(name, `unsupported BMP header size ${headerSize}`, 'unsupported_format');
  }
  const topDown = rawHeight < 0;
  const height = Math.abs(rawHeight);
  if (width <= 0 || height <= 0) throw corrupt(`invalid size ${width}x${rawHeight}`);
  if (width * height > MAX_PIXELS) throw new DataError(name, `BMP of ${width}x${height} pixels exceeds the pixel limit`, 'unsupported_format');
  if (compression === BI_RLE8 || compression === BI_RLE4) {
    throw new DataError(name, 'RLE-compressed BMP is not supported (re-save it uncompressed or as PNG)', 'unsupported_format');
  }
  if (compression !== BI_RGB && compression !== BI_BITFIELDS && compression !== BI_ALPHABITFIELDS) {
    throw new DataError(name, `BMP compression ${compression} is not supported (re-save it uncompressed or as PNG)`, 'unsupported_format');
  }
  if (![1, 4, 8, 16, 24, 32].includes(bpp)) throw new DataError(name, `${bpp}-bit BMP is not supported`, 'unsupported_format');
  if (compression !== BI_RGB && bpp !== 16 && bpp !== 32) throw corrupt(`bit-field compression with ${bpp} bits per pixel`);

  const rowBytes = Math.ceil((width * bpp) / 32) * 4;
  if (dataOffset + rowBytes * height > b.length) {
    throw corrupt(`pixel data truncated (${b.length} bytes, ${dataOffset + rowBytes * height} needed)`);
  }
  const rowAt = (y: number) => dataOffset + (topDown ? y : height - 1 - y) * rowBytes;

  if (bpp <= 8) {
    const paletteOffset = 14 + headerSize;
    const nColors = colorsUsed > 0 ? Math.min(colorsUsed, 1 << bpp) : 1 << bpp;
    const available = Math.floor(Math.max(0, dataOffset - paletteOffset) / paletteEntry);
    const n = Math.min(nColors, available);
    if (n === 0) throw corrupt('palette missing');
    const pal = new Uint8Array(256 * 3);
    let gray = true;
    for (let i = 0; i < n; i++) {
      const o = paletteOffset + i * paletteEntry;
      pal[i * 3] = b[o + 2]!;
      pal[i * 3 + 1] = b[o + 1]!;
      pal[i * 3 + 2] = b[o]!;
      if (b[o] !== b[o + 1] || b[o] !== b[o + 2]) gray = false;
    }
    // Indices beyond the palette read as black (entries 0).
    const channels = gray ? 1 : 3;
    const out = Buffer.alloc(width * height * channels);
    const perByte = 8 / bpp;
    const bitMask = (1 << bpp) - 1;
    for (let y = 0; y < height; y++) {
      const row = rowAt(y);
      for (let x = 0; x < width; x++) {
        const byte = b[row + Math.floor(x / perByte)]!;
        const idx = (byte >> (8 - bpp * ((x % perByte) + 1))) & bitMask;
        const o = (y * width + x) * channels;
        if (gray) out[o] = pal[idx * 3]!;
        else {
          out[o] = pal[idx * 3]!;
          out[o + 1] = pal[idx * 3 + 1]!;
          out[o + 2] = pal[idx * 3 + 2]!;
        }
      }
    }
    return { width, height, channels, data: out };
  }

  if (bpp === 24) {
    const out = Buffer.alloc(width * height * 3);
    for (let y = 0; y < height; y++) {
      const row = rowAt(y);
      for (let x = 0; x < width; x++) {
        const i = row + x * 3;
        const o = (y * width + x) * 3;
        out[o] = b[i + 2]!;
        out[o + 1] = b[i + 1]!;
        out[o + 2] = b[i]!;
      }
    }
    return { width, height, channels: 3, data: out };
  }

  // 16 and 32 bits: bit fields (the defaults for BI_RGB: 5-5-5 and 8-8-8 with no alpha).
  let masks: [number, number, number, number];
  if (compression === BI_RGB) {
    masks = bpp === 16 ? [0x7c00, 0x03e0, 0x001f, 0] : [0x00ff0000, 0x0000ff00, 0x000000ff, 0];
  } else {
    const at = 14 + 40; // in the V2+ header, or right after a 40-byte header
    if (b.length < at + 12) throw corrupt('bit masks missing');
    const hasAlphaMask = headerSize >= 56 || (compression === BI_ALPHABITFIELDS && b.length >= at + 16);
    masks = [b.readUInt32LE(at), b.readUInt32LE(at + 4), b.readUInt32LE(at + 8), hasAlphaMask ? b.readUInt32LE(at + 12) : 0];
  }
  const [fr, fg, fb, fa] = masks.map(field) as [Field, Field, Field, Field];
  const withAlpha = fa.max !== 0;
  const channels = withAlpha ? 4 : 3;
  const out = Buffer.alloc(width * height * channels);
  let anyAlpha = false;
  for (let y = 0; y < height; y++) {
    const row = rowAt(y);
    for (let x = 0; x < width; x++) {
      const px = bpp === 16 ? b.readUInt16LE(row + x * 2) : b.readUInt32LE(row + x * 4);
      const o = (y * width + x) * channels;
      out[o] = extract(px, fr);
      out[o + 1] = extract(px, fg);
      out[o + 2] = extract(px, fb);
      if (withAlpha) {
        const a = extract(px, fa);
        out[o + 3] = a;
        if (a !== 0) anyAlpha = true;
      }
    }
  }
  if (withAlpha && !anyAlpha) {
    const rgb = Buffer.alloc(width * height * 3);
    for (let i = 0, n = width * height; i < n; i++) {
      rgb[i * 3] = out[i * 4]!;
      rgb[i * 3 + 1] = out[i * 4 + 1]!;
      rgb[i * 3 + 2] = out[i * 4 + 2]!;
    }
    return { width, height, channels: 3, data: rgb };
  }
  return { width, height, channels, data: out };
}

/** Encodes an uncompressed bottom-up BMP (24-bit from 3 channels, 8-bit gray palette from 1). For tests and tools. */
export function encodeBmp(img: { width: number; height: number; channels: 1 | 3; data: Uint8Array }): Buffer {
  const { width, height, channels, data } = img;
  const bpp = channels === 1 ? 8 : 24;
  const rowBytes = Math.ceil((width * bpp) / 32) * 4;
  const paletteBytes = channels === 1 ? 256 * 4 : 0;
  const offset = 14 + 40 + paletteBytes;
  const out = Buffer.alloc(offset + rowBytes * height);
  out.write('BM', 0, 'latin1');
  out.writeUInt32LE(out.length, 2);
  out.writeUInt32LE(offset, 10);
  out.writeUInt32LE(40, 14);
  out.writeInt32LE(width, 18);
  out.writeInt32LE(height, 22);
  out.writeUInt16LE(1, 26);
  out.writeUInt16LE(bpp, 28);
  out.writeUInt32LE(BI_RGB, 30);
  out.writeUInt32LE(rowBytes * height, 34);
  if (channels === 1) {
    out.writeUInt32LE(256, 46);
    for (let i = 0; i < 256; i++) out.fill(i, 54 + i * 4, 54 + i * 4 + 3);
  }
  for (let y = 0; y < height; y++) {
    const row = offset + (height - 1 - y) * rowBytes;
    for (let x = 0; x < width; x++) {
      if (channels === 1) out[row + x] = data[y * width + x]!;
      else {
        const i = (y * width + x) * 3;
        out[row + x * 3] = data[i + 2]!;
        out[row + x * 3 + 1] = data[i + 1]!;
        out[row + x * 3 + 2] = data[i]!;
      }
    }
  }
  return out;
}
