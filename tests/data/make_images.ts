// Test helpers for the data tests: temporary directories and small generated images (with sharp).

import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import type { Sharp } from 'sharp';

/** A fresh temporary directory; remove() deletes it. */
export function tempDir(prefix = 'samlora-data-'): { dir: string; remove: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Writes bytes to dir/rel, creating parent directories. Returns the absolute path. */
export function put(dir: string, rel: string, bytes: Uint8Array | string): string {
  const file = path.join(dir, rel);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, bytes);
  return file;
}

export type Rgb = [number, number, number];

/** Raw RGB pixels, width x height, coloured by f(x, y). */
export function rgbPixels(width: number, height: number, f: (x: number, y: number) => Rgb): Buffer {
  const out = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) out.set(f(x, y), (y * width + x) * 3);
  }
  return out;
}

/** Raw single-channel pixels. */
export function grayPixels(width: number, height: number, f: (x: number, y: number) => number): Buffer {
  const out = Buffer.alloc(width * height);
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) out[y * width + x] = f(x, y);
  return out;
}

export function rawSharp(data: Buffer, width: number, height: number, channels: 1 | 2 | 3 | 4): Sharp {
  return sharp(data, { raw: { width, height, channels } });
}

/** An RGB image (format by name) whose colour is f(x, y). */
export function encodeRgb(width: number, height: number, f: (x: number, y: number) => Rgb, format: 'png' | 'jpeg' | 'webp' | 'tiff' = 'png'): Promise<Buffer> {
  const s = rawSharp(rgbPixels(width, height, f), width, height, 3);
  if (format === 'jpeg') return s.jpeg({ quality: 95 }).toBuffer();
  if (format === 'webp') return s.webp({ lossless: true }).toBuffer();
  if (format === 'tiff') return s.tiff({ compression: 'lzw' }).toBuffer();
  return s.png().toBuffer();
}

/** A single-channel 8-bit PNG (or JPEG) whose value is f(x, y). */
export function encodeGray(width: number, height: number, f: (x: number, y: number) => number, format: 'png' | 'jpeg' = 'png'): Promise<Buffer> {
  const s = rawSharp(grayPixels(width, height, f), width, height, 1).toColourspace('b-w');
  return format === 'jpeg' ? s.jpeg({ quality: 95 }).toBuffer() : s.png().toBuffer();
}

/** A binary mask PNG: 255 where inside(x, y), else 0. */
export function encodeMask(width: number, height: number, inside: (x: number, y: number) => boolean): Promise<Buffer> {
  return encodeGray(width, height, (x, y) => (inside(x, y) ? 255 : 0));
}
