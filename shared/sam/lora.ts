// LoRA adapters: delta(x) = (alpha / rank) * x A^T B^T added to the output of a target projection.
// The default (q and v of every image-encoder block's qkv, alpha = rank) is the reference project's
// LoRA_qkv arithmetic; other encoder projections and the mask decoder's attention projections
// are optional targets.

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
  /** Projections of every mask-decoder attention module that get adapters (default none). */
  decoderTargets?: DecoderTarget[];
}

export const DECODER_TARGETS = ['q_proj', 'k_proj', 'v_proj', 'out_proj'] as const;
export type DecoderTarget = (typeof DECODER_TARGETS)[number];

/** The mask decoder's attention modules, in checkpoint order. */
const DECODER_ATTENTION = [
  ...[0, 1].flatMap((i) => ['self_attn', 'cross_attn_token_to_image', 'cross_attn_image_to_token'].map((m) => `layers.${i}.${m}`)),
  'final_attn_token_to_image',
];

export function defaultLoraSpec(cfg: SamConfig, rank: number): LoraSpec {
  return { rank, alpha: rank, blocks: [...Array(cfg.depth).keys()], targets: ['q', 'v'] };
}

/** Returns the LoRA update of a target in a block for input x, or undefined when it has none. */
export type LoraDelta = (block: number, target: EncoderTarget, x: Tensor) => Tensor | undefined;

/** The same for a mask-decoder linear layer, by its checkpoint prefix (e.g. "...self_attn.q_proj"). */
export type DecoderLoraDelta = (prefix: string, x: Tensor) => Tensor | undefined;

/** [in, out] widths of a target's projection. */
function targetDims(cfg: SamConfig, target: EncoderTarget): [number, number] {
  const hidden = 4 * cfg.dim;
  if (target === 'lin1') return [cfg.dim, hidden];
  if (target === 'lin2') return [hidden, cfg.dim];
  return [cfg.dim, cfg.dim];
}

export const loraKeyA = (block: number, target: EncoderTarget): string => `blocks.${block}.a_${target}`;
export const loraKeyB = (block: number, target: EncoderTarget): string => `blocks.${block}.b_${target}`;
export const decoderLoraKeyA = (prefix: string): string => `${prefix}.lora_a`;
export const decoderLoraKeyB = (prefix: string): string => `${prefix}.lora_b`;

/** [in, out] widths of a decoder attention projection. */
function decoderTargetDims(cfg: SamConfig, module: string, target: DecoderTarget): [number, number] {
  const inner = module.endsWith('self_attn') ? cfg.pdim : cfg.pdim / 2;
  return target === 'out_proj' ? [inner, cfg.pdim] : [cfg.pdim, inner];
}

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
  for (const m of DECODER_ATTENTION) {
    for (const t of DECODER_TARGETS.filter((x) => spec.decoderTargets?.includes(x))) {
      const prefix = `mask_decoder.transformer.${m}.${t}`;
      const [inDim, outDim] = decoderTargetDims(cfg, m, t);
      out.push({ key: decoderLoraKeyA(prefix), shape: [spec.rank, inDim] });
      out.push({ key: decoderLoraKeyB(prefix), shape: [outDim, spec.rank] });
    }
  }
  return out;
}

export interface BoundLora {
  delta: LoraDelta;
  decoderDelta: DecoderLoraDelta;
  inputs: { key: string; tensor: Tensor }[];
}

/**
 * Returns the delta hooks for encoder and decoder. Each LoRA tensor becomes a graph input the
 * first time a hook uses it, so a graph holds only the adapters it applies (a decoder-only graph
 * has no encoder adapter inputs).
 */
export function bindLora(graph: Graph, cfg: SamConfig, spec: LoraSpec): BoundLora {
  const shapes = new Map(loraLayout(cfg, spec).map(({ key, shape }) => [key, shape]));
  const inputs: { key: string; tensor: Tensor }[] = [];
  const bound = new Map<string, Tensor>();
  const input = (key: string): Tensor | undefined => {
    const shape = shapes.get(key);
    if (!shape) return undefined;
    let t = bound.get(key);
    if (!t) {
      t = graph.input(key, shape);
      bound.set(key, t);
      inputs.push({ key, tensor: t });
    }
    return t;
  };
  const scale = spec.alpha / spec.rank;
  const apply = (keyA: string, keyB: string, x: Tensor): Tensor | undefined => {
    const a = input(keyA);
    const b = input(keyB);
    if (!a || !b) return undefined;
    const rows = op.reshape(x, [-1, x.shape[x.rank - 1]!]);
    const low = op.gemm(rows, a, null, { transB: true }); // [N, r]
    const up = op.gemm(low, b, null, { transB: true, alpha: scale }); // [N, out]
    return op.reshape(up, [...x.shape.slice(0, -1), b.shape[0]!]);
  };
  return {
    delta: (block, target, x) => apply(loraKeyA(block, target), loraKeyB(block, target), x),
    decoderDelta: (prefix, x) => apply(decoderLoraKeyA(prefix), decoderLoraKeyB(prefix), x),
    inputs,
  };
}

/** Seeded init as the reference project: A ~ kaiming_uniform(a = sqrt 5) = U(-1/sqrt(in), 1/sqrt(in)), B = 0. */
export function initLora(cfg: SamConfig, spec: LoraSpec, seed: number): Map<string, HostTensor> {
  const rng = new Rng(seed);
  const out = new Map<string, HostTensor>();
  for (const { key, shape } of loraLayout(cfg, spec)) {
    const data = new Float32Array(shape[0] * shape[1]);
    if (key.includes('.a_') || key.endsWith('.lora_a')) {
      const bound = 1 / Math.sqrt(shape[1]);
      for (let i = 0; i < data.length; i++) data[i] = rng.uniform(-bound, bound);
    }
    out.set(key, { shape, data });
  }
  return out;
}
