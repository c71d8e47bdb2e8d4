// SAM's postprocess_masks on the host: bilinear (align_corners false) to img x img, crop the valid
// h x w region, bilinear to the original H x W. Separable two-tap interpolation.

import { linearTaps } from '../tensor/interpolation.js';

/** Resizes a [h, w] plane (row-major) to [outH, outW]. */
export function resizeBilinear2d(src: Float32Array, h: number, w: number, outH: number, outW: number): Float32Array {
  const ty = linearTaps(h, outH);
  const tx = linearTaps(w, outW);
  const rows = new Float32Array(outH * w);
  for (let y = 0; y < outH; y++) {
    const a = ty.i0[y]! * w;
    const b = ty.i1[y]! * w;
    const l = ty.l1[y]!;
    for (let x = 0; x < w; x++) rows[y * w + x] = (1 - l) * src[a + x]! + l * src[b + x]!;
  }
  const out = new Float32Array(outH * outW);
  for (let y = 0; y < outH; y++) {
    for (let x = 0; x < outW; x++) {
      const l = tx.l1[x]!;
      out[y * outW + x] = (1 - l) * rows[y * w + tx.i0[x]!]! + l * rows[y * w + tx.i1[x]!]!;
    }
  }
  return out;
}

/** One low-res mask [4g, 4g] -> logits [H, W] at the original image size. */
export function postprocessMask(lowRes: Float32Array, lowSize: number, img: number, inputSize: readonly [number, number], originalSize: readonly [number, number]): Float32Array {
  const full = resizeBilinear2d(lowRes, lowSize, lowSize, img, img);
  const [h, w] = inputSize;
  const crop = new Float32Array(h * w);
  for (let y = 0; y < h; y++) crop.set(full.subarray(y * img, y * img + w), y * w);
  return resizeBilinear2d(crop, h, w, originalSize[0], originalSize[1]);
}
