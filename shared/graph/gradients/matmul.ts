// Gradients of MatMul and Gemm. A 2-D frozen right operand (a weight) is never transposed in the
// graph: Gemm's transB reads it in place, so ORT's constant folding cannot duplicate the weight.

import type { Tensor } from '../graph.js';
import { gemm, matmul, mul, reshape, transpose } from '../ops/index.js';
import { attrFloat, attrInt } from './attrs.js';
import { registerGradient } from './registry.js';
import { unbroadcast } from './unbroadcast.js';

/** Swaps the last two axes. */
function mT(x: Tensor): Tensor {
  const perm = x.shape.map((_, i) => i);
  perm[x.rank - 1] = x.rank - 2;
  perm[x.rank - 2] = x.rank - 1;
  return transpose(x, perm);
}

/** dY [..., M, N] times B[K, N]^T -> [..., M, K], computed as one Gemm over the flattened rows. */
function timesTransposed2d(dy: Tensor, b: Tensor): Tensor {
  const n = dy.shape[dy.rank - 1]!;
  const rows = reshape(dy, [-1, n]);
  const out = gemm(rows, b, null, { transB: true });
  return reshape(out, [...dy.shape.slice(0, -1), b.shape[0]!]);
}

registerGradient('MatMul', ({ node, dOut: [dy], needs }) => {
  const [a, b] = node.inputs as [Tensor, Tensor];
  let da: Tensor | undefined;
  let db: Tensor | undefined;
  if (needs[0]) {
    da = b.rank === 2 ? timesTransposed2d(dy!, b) : matmul(dy!, mT(b));
    da = unbroadcast(da, a.shape);
  }
  if (needs[1]) {
    // With a 2-D B, dY's batch axes are A's, so A^T dY summed over them is one Gemm over flattened rows.
    db =
      b.rank === 2
        ? gemm(reshape(a, [-1, a.shape[a.rank - 1]!]), reshape(dy!, [-1, dy!.shape[dy!.rank - 1]!]), null, { transA: true })
        : unbroadcast(matmul(mT(a), dy!), b.shape);
  }
  return [da, db];
});

registerGradient('Gemm', ({ node, dOut: [dy], needs }) => {
  const [a, b, c] = node.inputs as [Tensor, Tensor, Tensor | null];
  const transA = attrInt(node.attrs.transA);
  const transB = attrInt(node.attrs.transB);
  const alpha = attrFloat(node.attrs.alpha, 1);
  const beta = attrFloat(node.attrs.beta, 1);
  let da: Tensor | undefined;
  let db: Tensor | undefined;
  let dc: Tensor | undefined;
  // Y = alpha op(A) op(B): d op(A) = alpha dY op(B)^T, d op(B) = alpha op(A)^T dY.
  if (needs[0]) {
    da = transA ? gemm(b, dy!, null, { transA: !!transB, transB: true, alpha }) : gemm(dy!, b, null, { transB: !transB, alpha });
  }
  if (needs[1]) {
    db = transB ? gemm(dy!, a, null, { transA: true, transB: !!transA, alpha }) : gemm(a, dy!, null, { transA: !transA, alpha });
  }
  // ONNX stores alpha and beta as float32: scale by the value the forward Gemm actually used.
  if (c && needs[2]) dc = unbroadcast(beta === 1 ? dy! : mul(dy!, Math.fround(beta)), c.shape);
  return [da, db, dc];
});
