// Binary object masks: thresholding a decoded mask, splitting an instance-label image into one
// mask per label, and the small helpers the loaders and the scan share.

import { DataError } from './errors.js';
import type { GrayImage, LabelImage } from './image_io.js';
import type { BinaryMask as PlainBinaryMask } from './types.js';

/** A binary mask (data in {0, 1}, row-major), optionally with the label or category it came from. */
export interface BinaryMask extends PlainBinaryMask {
  /** Instance-label masks: the label value; COCO: the annotation's category_id. */
  label?: number;
}

/** A mask pixel is object when its 8-bit value is >= 128 (PIL's convert('1') rule without dithering). */
export const MASK_THRESHOLD = 128;

export function binarize(mask: GrayImage, threshold = MASK_THRESHOLD): BinaryMask {
  const n = mask.width * mask.height;
  const out = new Uint8Array(n);
  const src = mask.data;
  for (let i = 0; i < n; i++) out[i] = src[i]! >= threshold ? 1 : 0;
  return { width: mask.width, height: mask.height, data: out };
}

/** Number of object pixels (non-zero values) in a mask. */
export function countOn(mask: { data: ArrayLike<number> }): number {
  let k = 0;
  const d = mask.data;
  for (let i = 0; i < d.length; i++) if (d[i] !== 0) k++;
  return k;
}

/** Whether any value reaches the threshold (stops at the first one). */
export function anyAtLeast(data: ArrayLike<number>, threshold: number): boolean {
  for (let i = 0; i < data.length; i++) if (data[i]! >= threshold) return true;
  return false;
}

/** The distinct non-zero labels of a label image, ascending. */
export function labelsOf(labels: LabelImage): number[] {
  const seen = new Set<number>();
  const d = labels.data;
  let last = 0;
  for (let i = 0; i < d.length; i++) {
    const v = d[i]!;
    if (v !== 0 && v !== last) {
      seen.add(v);
      last = v;
    }
  }
  return [...seen].sort((a, b) => a - b);
}

/** One binary mask per distinct non-zero label, in ascending label order, each with its label. */
export function splitLabels(labels: LabelImage): BinaryMask[] {
  const { width, height, data } = labels;
  const ids = labelsOf(labels);
  const index = new Map<number, number>();
  ids.forEach((id, i) => index.set(id, i));
  const masks: BinaryMask[] = ids.map((label) => ({ width, height, data: new Uint8Array(width * height), label }));
  let lastLabel = 0;
  let lastMask: Uint8Array | undefined;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v === 0) continue;
    if (v !== lastLabel) {
      lastLabel = v;
      lastMask = masks[index.get(v)!]!.data;
    }
    lastMask![i] = 1;
  }
  return masks;
}

/** The size an image decodes to, and (from the scan) how it is stored, for a helpful mismatch message. */
export interface FrameSize {
  width: number;
  height: number;
  storedWidth?: number;
  storedHeight?: number;
  orientation?: number;
}

/** Throws DataError('size_mismatch') on `maskName` unless the mask has the image's size. */
export function checkMaskSize(maskName: string, mask: { width: number; height: number }, image: FrameSize, what = 'mask'): void {
  if (mask.width === image.width && mask.height === image.height) return;
  let hint = '';
  if (image.orientation !== undefined && image.orientation !== 1 && mask.width === image.storedWidth && mask.height === image.storedHeight) {
    hint =
      `; the image carries EXIF orientation ${image.orientation} and the ${what} matches its stored, unrotated size:` +
      ` save the ${what} upright (as the image is displayed) or with the same EXIF orientation`;
  }
  throw new DataError(maskName, `${what} is ${mask.width}x${mask.height} but its image is ${image.width}x${image.height}${hint}`, 'size_mismatch');
}
