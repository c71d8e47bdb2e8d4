// SAM's postprocess_masks on the host: bilinear (align_corners false) to img x img, crop the valid
// h x w region, bilinear to the original H x W. Separable two-tap interpolation.

/** Source taps of PyTorch's bilinear resize along one axis. */
function taps(inSize: number, outSize: number): { i0: Int32Array; i1: Int32Array; l1: Float32Array } {
  const i0 = new Int32Array(outSize);
  const i1 = new Int32Array(outSize);
  const l1 = new Float32Array(outSize);
  const scale = inSize / outSize;
  for (let o = 0; o < outSize; o++) {
    const src = Math.max(scale * (o + 0.5) - 0.5, 0);
    const a = Math.min(Math.floor(src), inSize - 1);
    i0[o] = a;
    i1[o] = a < inSize - 1 ? a + 1 : a;
    l1[o] = src - a;
  }
  return { i0, i1, l1 };
}

/** Resizes a [h, w] plane (row-major) to [outH, outW]. */
export function resizeBilinear2d(src: Float32Array, h: number, w: number, outH: number, outW: number): Float32Array {
  const ty = taps(h, outH);
  const tx = taps(w, outW);
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
