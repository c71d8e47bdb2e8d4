// Matrix products.

import { type Tensor, float, int } from '../graph.js';
import { ShapeError, broadcastShapes, fmt } from '../shape.js';

/** numpy.matmul for rank >= 2 operands (batch dims broadcast). */
export function matmul(a: Tensor, b: Tensor): Tensor {
  if (a.rank < 2 || b.rank < 2) throw new ShapeError('MatMul', `operands must have rank >= 2, got ${fmt(a.shape)} and ${fmt(b.shape)}`);
  if (a.dtype !== b.dtype) throw new ShapeError('MatMul', `dtypes differ: ${a.dtype} and ${b.dtype}`);
  const [m, k] = a.shape.slice(-2) as [number, number];
  const [k2, n] = b.shape.slice(-2) as [number, number];
  if (k !== k2) throw new ShapeError('MatMul', `inner dimensions differ: ${fmt(a.shape)} x ${fmt(b.shape)}`);
  const batch = broadcastShapes('MatMul', a.shape.slice(0, -2), b.shape.slice(0, -2));
  return a.graph.addNode('MatMul', [a, b], {}, [{ shape: [...batch, m, n], dtype: a.dtype }])[0]!;
}

export interface GemmOptions {
  transA?: boolean;
  transB?: boolean;
  alpha?: number;
  beta?: number;
}

/** Y = alpha * op(A) op(B) + beta * C for 2-D A and B; C broadcasts to [M, N]. */
export function gemm(a: Tensor, b: Tensor, c: Tensor | null = null, opts: GemmOptions = {}): Tensor {
  if (a.rank !== 2 || b.rank !== 2) throw new ShapeError('Gemm', `A and B must be 2-D, got ${fmt(a.shape)} and ${fmt(b.shape)}`);
  const [m, k] = opts.transA ? [a.shape[1]!, a.shape[0]!] : [a.shape[0]!, a.shape[1]!];
  const [k2, n] = opts.transB ? [b.shape[1]!, b.shape[0]!] : [b.shape[0]!, b.shape[1]!];
  if (k !== k2) {
    throw new ShapeError('Gemm', `inner dimensions differ: A${fmt(a.shape)}${opts.transA ? 'ᵀ' : ''} x B${fmt(b.shape)}${opts.transB ? 'ᵀ' : ''}`);
  }
  if (c) {
    const bc = broadcastShapes('Gemm', c.shape, [m, n]);
    if (bc[0] !== m || bc[1] !== n) throw new ShapeError('Gemm', `C${fmt(c.shape)} does not broadcast to [${m}, ${n}]`);
  }
  const attrs = {
    transA: int(opts.transA ? 1 : 0),
    transB: int(opts.transB ? 1 : 0),
    alpha: float(opts.alpha ?? 1),
    beta: float(opts.beta ?? 1),
  };
  return a.graph.addNode('Gemm', c ? [a, b, c] : [a, b], attrs, [{ shape: [m, n], dtype: a.dtype }])[0]!;
}
