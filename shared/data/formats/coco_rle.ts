// COCO run-length encoding (pycocotools' maskApi.c). An RLE is { size: [h, w], counts }: run lengths
// over the mask in COLUMN-major order (Fortran order: down the first column, then the next),
// alternating 0-runs and 1-runs and starting with a 0-run (possibly of length 0).
// `counts` is either a number[] (the "uncompressed" form, used for iscrowd annotations) or the
// compressed string of rleToString: each count, from the fourth on stored as the difference to the
// count two before it, written as a little-endian sequence of 5-bit groups in characters 48 + group,
// bit 0x20 meaning "more groups follow" and bit 0x10 of the last group the sign.

import type { BinaryMask } from '../masks.js';

export interface Rle {
  size: [number, number]; // [height, width]
  counts: number[];
}

/** Decodes pycocotools' compressed counts string (rleFrString). Throws on a malformed string. */
export function rleCountsFromString(s: string): number[] {
  const counts: number[] = [];
  let p = 0;
  while (p < s.length) {
    let x = 0;
    let k = 0;
    let more = true;
    while (more) {
      if (p >= s.length) throw new Error('RLE string ends inside a count');
      const c = s.charCodeAt(p) - 48;
      if (c < 0 || c > 63) throw new Error(`RLE string has an invalid character ${JSON.stringify(s[p])} at ${p}`);
      x += (c & 0x1f) * 2 ** (5 * k);
      more = (c & 0x20) !== 0;
      p++;
      k++;
      if (!more && (c & 0x10) !== 0) x -= 2 ** (5 * k); // sign-extend: x |= -1 << 5k
    }
    if (counts.length > 2) x += counts[counts.length - 2]!;
    counts.push(x);
  }
  return counts;
}

/** Encodes counts as pycocotools' compressed string (rleToString). */
export function rleCountsToString(counts: readonly number[]): string {
  let s = '';
  for (let i = 0; i < counts.length; i++) {
    let x = counts[i]!;
    if (i > 2) x -= counts[i - 2]!;
    let more = true;
    while (more) {
      let c = ((x % 32) + 32) % 32; // x & 0x1f, for any sign
      x = Math.floor(x / 32); // x >>= 5 (arithmetic)
      more = (c & 0x10) !== 0 ? x !== -1 : x !== 0;
      if (more) c |= 0x20;
      s += String.fromCharCode(c + 48);
    }
  }
  return s;
}

/** Run-length encodes a row-major binary mask (COCO's column-major order). */
export function encodeRle(mask: { width: number; height: number; data: ArrayLike<number> }): Rle {
  const { width: w, height: h, data } = mask;
  const counts: number[] = [];
  let cur = 0;
  let run = 0;
  for (let x = 0; x < w; x++) {
    for (let y = 0; y < h; y++) {
      const v = data[y * w + x] ? 1 : 0;
      if (v !== cur) {
        counts.push(run);
        run = 0;
        cur = v;
      }
      run++;
    }
  }
  counts.push(run);
  return { size: [h, w], counts };
}

/**
 * Decodes counts into a row-major binary mask of h x w. Counts summing to less than h * w leave the
 * rest 0 (as pycocotools does); more than h * w, or a negative count, is an error.
 */
export function decodeRle(counts: readonly number[], h: number, w: number, label?: number): BinaryMask {
  const n = h * w;
  const data = new Uint8Array(n);
  let pos = 0;
  for (let i = 0; i < counts.length; i++) {
    const len = counts[i]!;
    if (!Number.isInteger(len) || len < 0) throw new Error(`RLE count ${i} is ${len}, not a non-negative integer`);
    if (pos + len > n) throw new Error(`RLE counts sum past the ${h}x${w} mask (${n} pixels)`);
    if (i % 2 === 1) {
      for (let j = pos; j < pos + len; j++) {
        const x = Math.floor(j / h);
        data[(j - x * h) * w + x] = 1;
      }
    }
    pos += len;
  }
  return label === undefined ? { width: w, height: h, data } : { width: w, height: h, data, label };
}

/** Number of 1-pixels of an RLE over h x w, validated as decodeRle does (without building the mask). */
export function rleArea(counts: readonly number[], h: number, w: number): number {
  const n = h * w;
  let pos = 0;
  let area = 0;
  for (let i = 0; i < counts.length; i++) {
    const len = counts[i]!;
    if (!Number.isInteger(len) || len < 0) throw new Error(`RLE count ${i} is ${len}, not a non-negative integer`);
    if (pos + len > n) throw new Error(`RLE counts sum past the ${h}x${w} mask (${n} pixels)`);
    if (i % 2 === 1) area += len;
    pos += len;
  }
  return area;
}
