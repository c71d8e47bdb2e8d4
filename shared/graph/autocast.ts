// Mixed precision as a policy on a graph, applied where ops are built (like PyTorch's autocast):
// on a graph with autocast enabled, MatMul, Gemm, Conv and ConvTranspose of float32 operands run in
// float16 (their inputs cast down, their result cast back up); everything else (softmax, layer
// norms, the loss, reductions, biases) stays float32. The backward pass follows by itself: a Cast's
// gradient casts back, so the gradient rules of the fp16 products emit fp16 products, and every
// trained fp32 tensor receives an fp32 gradient. Graphs without the policy are unchanged.

import type { Graph, Tensor } from './graph.js';
import { add, cast, mul } from './ops/elementwise.js';
import { type ConvOptions, type ConvTransposeOptions, conv as convRaw, convTranspose as convTransposeRaw } from './ops/conv.js';
import { type GemmOptions, gemm as gemmRaw, matmul as matmulRaw } from './ops/matmul.js';
import { reshape } from './ops/shape_ops.js';

interface Policy {
  /** Each float32 initializer's float16 copy, made once however many products read it. */
  readonly lowered: Map<Tensor, Tensor>;
}

const policies = new WeakMap<Graph, Policy>();

/** Turns the fp16 policy on for ops built on `graph` from now on. */
export function enableAutocast(graph: Graph): void {
  if (!policies.has(graph)) policies.set(graph, { lowered: new Map() });
}

export function autocastEnabled(graph: Graph): boolean {
  return policies.has(graph);
}

function lower(p: Policy, t: Tensor): Tensor {
  // A value that was just cast up from fp16 goes back to its fp16 source (the round trip is exact).
  const src = t.producer?.op === 'Cast' ? t.producer.inputs[0] : undefined;
  if (src && src.dtype === 'float16') return src;
  // Only constants share one cast. A trained input or an activation gets a cast per use: a
  // recomputed piece's copy (recompute.ts) must read its trained tensors through casts of its own,
  // or their gradients would bypass the copy and come out zero. (ORT merges duplicate casts.)
  if (!t.graph.initializers.has(t.name)) return cast(t, 'float16');
  let low = p.lowered.get(t);
  if (!low) {
    low = cast(t, 'float16');
    p.lowered.set(t, low);
  }
  return low;
}

/** The policy for these operands: all float32 on an autocast graph. */
function policyFor(...ts: Tensor[]): Policy | undefined {
  const p = policies.get(ts[0]!.graph);
  return p && ts.every((t) => t.dtype === 'float32') ? p : undefined;
}

export function matmul(a: Tensor, b: Tensor): Tensor {
  const p = policyFor(a, b);
  return p ? cast(matmulRaw(lower(p, a), lower(p, b)), 'float32') : matmulRaw(a, b);
}

/** Gemm; under the policy the product is fp16 and beta * C is added in fp32 (its gradient is a reduction). */
export function gemm(a: Tensor, b: Tensor, c: Tensor | null = null, opts: GemmOptions = {}): Tensor {
  const p = policyFor(a, b);
  if (!p || (c && c.dtype !== 'float32')) return gemmRaw(a, b, c, opts);
  const y = cast(gemmRaw(lower(p, a), lower(p, b), null, { ...opts, beta: 1 }), 'float32');
  if (!c) return y;
  const beta = opts.beta ?? 1;
  return add(y, beta === 1 ? c : mul(c, Math.fround(beta)));
}

function withBias(y: Tensor, b: Tensor | null): Tensor {
  return b ? add(y, reshape(b, [1, b.shape[0]!, 1, 1])) : y;
}

export function conv(x: Tensor, w: Tensor, b: Tensor | null, opts: ConvOptions = {}): Tensor {
  const p = policyFor(x, w);
  if (!p || (b && b.dtype !== 'float32')) return convRaw(x, w, b, opts);
  return withBias(cast(convRaw(lower(p, x), lower(p, w), null, opts), 'float32'), b);
}

export function convTranspose(x: Tensor, w: Tensor, b: Tensor | null, opts: ConvTransposeOptions = {}): Tensor {
  const p = policyFor(x, w);
  if (!p || (b && b.dtype !== 'float32')) return convTransposeRaw(x, w, b, opts);
  return withBias(cast(convTransposeRaw(lower(p, x), lower(p, w), null, opts), 'float32'), b);
}
