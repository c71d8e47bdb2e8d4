// Building blocks shared by the SAM components, written against checkpoint key prefixes.

import type { Tensor } from '../graph/graph.js';
import * as op from '../graph/ops/index.js';
import type { ParamBinder } from './params.js';

/**
 * torch.nn.Linear: y = x W^T + b over the last axis. Gemm with transB reads the [out, in] weight in
 * place (forward and backward), so no transposed copy of a frozen weight is ever made.
 */
export function linear(p: ParamBinder, prefix: string, x: Tensor, bias = true): Tensor {
  const w = p.get(`${prefix}.weight`);
  const b = bias ? p.get(`${prefix}.bias`) : null;
  const inDim = x.shape[x.rank - 1]!;
  const out = op.gemm(op.reshape(x, [-1, inDim]), w, b, { transB: true });
  return op.reshape(out, [...x.shape.slice(0, -1), w.shape[0]!]);
}

/** torch.nn.LayerNorm over the last axis. */
export function layerNorm(p: ParamBinder, prefix: string, x: Tensor, eps: number): Tensor {
  return op.layerNorm(x, p.get(`${prefix}.weight`), p.get(`${prefix}.bias`), eps, -1);
}

/** SAM's LayerNorm2d over the channels of [B, C, H, W]. */
export function layerNorm2d(p: ParamBinder, prefix: string, x: Tensor, eps: number): Tensor {
  return op.layerNorm2d(x, p.get(`${prefix}.weight`), p.get(`${prefix}.bias`), eps);
}

/** SAM's MLPBlock: lin2(act(lin1(x))). */
export function mlpBlock(p: ParamBinder, prefix: string, x: Tensor, act: (t: Tensor) => Tensor): Tensor {
  return linear(p, `${prefix}.lin2`, act(linear(p, `${prefix}.lin1`, x)));
}

/** The mask decoder's MLP: ReLU between layers, none after the last. */
export function mlp(p: ParamBinder, prefix: string, x: Tensor, numLayers: number): Tensor {
  let h = x;
  for (let i = 0; i < numLayers; i++) {
    h = linear(p, `${prefix}.layers.${i}`, h);
    if (i < numLayers - 1) h = op.relu(h);
  }
  return h;
}
