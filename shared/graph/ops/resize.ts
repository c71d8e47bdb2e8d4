// Bilinear resize (align_corners = false, no antialias: torch.nn.functional.interpolate's
// "bilinear"), built as two matrix products so its gradient comes from MatMul's rule.

import type { Tensor } from '../graph.js';
import { ShapeError, fmt } from '../shape.js';
import { linearTaps } from '../../tensor/interpolation.js';
import { matmul } from './matmul.js';

/** Interpolation matrix [outSize, inSize] with PyTorch's half-pixel source index rule. */
export function bilinearMatrix(inSize: number, outSize: number): Float64Array {
  const m = new Float64Array(outSize * inSize);
  const { i0, i1, l1 } = linearTaps(inSize, outSize);
  for (let o = 0; o < outSize; o++) {
    m[o * inSize + i0[o]!]! += 1 - l1[o]!;
    m[o * inSize + i1[o]!]! += l1[o]!;
  }
  return m;
}

/** Resizes the last two axes of x to [outH, outW]. */
export function resizeBilinear(x: Tensor, outH: number, outW: number): Tensor {
  if (x.rank < 2) throw new ShapeError('ResizeBilinear', `need rank >= 2, got ${fmt(x.shape)}`);
  const [h, w] = x.shape.slice(-2) as [number, number];
  let y = x;
  if (outH !== h) y = matmul(x.graph.constant(bilinearMatrix(h, outH), [outH, h], x.dtype), y);
  if (outW !== w) {
    const rw = bilinearMatrix(w, outW);
    const rwT = new Float64Array(w * outW);
    for (let o = 0; o < outW; o++) for (let i = 0; i < w; i++) rwT[i * outW + o] = rw[o * w + i]!;
    y = matmul(y, x.graph.constant(rwT, [w, outW], x.dtype));
  }
  return y;
}
