// LoRA adapters on the image encoder: delta(x) = (alpha / rank) * x A^T B^T added to the output
// of a target projection. The default (q and v of every block's qkv, alpha = rank) is the
// reference project's LoRA_qkv arithmetic.

import type { Graph, Tensor } from '../graph/graph.js';
import * as op from '../graph/ops/index.js';
import { Rng } from '../random/rng.js';
import type { HostTensor } from '../tensor/host_tensor.js';
import type { SamConfig } from './config.js';

export const ENCODER_TARGETS = ['q', 'k', 'v', 'proj', 'lin1', 'lin2'] as const;
export type EncoderTarget = (typeof ENCODER_TARGETS)[number];

export interface LoraSpec {
  rank: number;
  /** Scale of the update is alpha / rank; alpha = rank reproduces the reference project. */
  alpha: number;
  /** Encoder blocks that get adapters (default: all). */
  blocks: number[];
  targets: EncoderTarget[];
}

export function defaultLoraSpec(cfg: SamConfig, rank: number): LoraSpec {
  return { rank, alpha: rank, blocks: [...Array(cfg.depth).keys()], targets: ['q', 'v'] };
}

/** Returns the LoRA update of a target in a block for input x, or undefined when it has none. */
export type LoraDelta = (block: number, target: EncoderTarget, x: Tensor) => Tensor | undefined;

/** [in, out] widths of a target's projection. */
function targetDims(cfg: SamConfig, target: EncoderTarget): [number, number] {
  const hidden = 4 * cfg.dim;
  if (target === 'lin1') return [cfg.dim, hidden];
  if (target === 'lin2') return [hidden, cfg.dim];
  return [cfg.dim, cfg.dim];
}

export const loraKeyA = (block: number, target: EncoderTarget): string => `blocks.${block}.a_${target}`;
export const loraKeyB = (block: number, target: EncoderTarget): string => `blocks.${block}.b_${target}`;

/** Every LoRA tensor of a spec with its shape, in a stable order (block, then target order). */
export function loraLayout(cfg: SamConfig, spec: LoraSpec): { key: string; shape: [number, number] }[] {
  const out: { key: string; shape: [number, number] }[] = [];
  for (const i of [...spec.blocks].sort((a, b) => a - b)) {
    for (const t of ENCODER_TARGETS.filter((x) => spec.targets.includes(x))) {
      const [inDim, outDim] = targetDims(cfg, t);
      out.push({ key: loraKeyA(i, t), shape: [spec.rank, inDim] });
      out.push({ key: loraKeyB(i, t), shape: [outDim, spec.rank] });
    }
  }
  return out;
}

/** Declares the LoRA tensors as graph inputs and returns the delta hook for the encoder. */
export function bindLora(graph: Graph, cfg: SamConfig, spec: LoraSpec): { delta: LoraDelta; inputs: { key: string; tensor: Tensor }[] } {
  const inputs = loraLayout(cfg, spec).map(({ key, shape }) => ({ key, tensor: graph.input(key, shape) }));
  const byKey = new Map(inputs.map((i) => [i.key, i.tensor]));
  const scale = spec.alpha / spec.rank;
  const delta: LoraDelta = (block, target, x) => {
    const a = byKey.get(loraKeyA(block, target));
    const b = byKey.get(loraKeyB(block, target));
    if (!a || !b) return undefined;
    const rows = op.reshape(x, [-1, x.shape[x.rank - 1]!]);
    const low = op.gemm(rows, a, null, { transB: true }); // [N, r]
    const up = op.gemm(low, b, null, { transB: true, alpha: scale }); // [N, out]
    return op.reshape(up, [...x.shape.slice(0, -1), b.shape[0]!]);
  };
  return { delta, inputs };
}

/** Seeded init as the reference project: A ~ kaiming_uniform(a = sqrt 5) = U(-1/sqrt(in), 1/sqrt(in)), B = 0. */
export function initLora(cfg: SamConfig, spec: LoraSpec, seed: number): Map<string, HostTensor> {
  const rng = new Rng(seed);
  const out = new Map<string, HostTensor>();
  for (const { key, shape } of loraLayout(cfg, spec)) {
    const data = new Float32Array(shape[0] * shape[1]);
    if (key.includes('.a_')) {
      const bound = 1 / Math.sqrt(shape[1]);
      for (let i = 0; i < data.length; i++) data[i] = rng.uniform(-bound, bound);
    }
    out.set(key, { shape, data });
  }
  return out;
}
