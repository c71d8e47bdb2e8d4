// Folds LoRA adapters into the SAM weights: for every adapted linear layer W' = W + s * B A, with
// s = alpha / rank, the scale bindLora (lora.ts) applies at run time, so the merged model computes
// what the LoRA model computes with no adapter inputs. The result is a plain SAM state dict under
// the original keys.
//
// Where a target lives: the image encoder's q, k and v are row blocks [0, C), [C, 2C), [2C, 3C) of
// blocks.{i}.attn.qkv.weight (the fused [3C, C] projection the adapters are added to the split
// outputs of); proj, lin1 and lin2 are attn.proj / mlp.lin1 / mlp.lin2; a mask-decoder adapter
// `<prefix>.lora_a|lora_b` adds to `<prefix>.weight`. Biases are unchanged (adapters have none).

import type { HostTensor } from '../tensor/host_tensor.js';
import { type SamConfig } from './config.js';
import { type EncoderTarget, type LoraSpec, decoderLoraKeyA, decoderLoraKeyB, loraKeyA, loraKeyB, loraLayout } from './lora.js';
import type { StateDict } from './params.js';

/** One adapted weight: which rows of which checkpoint tensor the update B A lands in. */
export interface MergeTarget {
  weightKey: string;
  /** First row of the [out, in] block inside the weight (q/k/v share the fused qkv weight). */
  rowOffset: number;
  keyA: string;
  keyB: string;
}

function encoderTarget(block: number, target: EncoderTarget, dim: number): MergeTarget {
  const pre = `image_encoder.blocks.${block}`;
  const keys = { keyA: loraKeyA(block, target), keyB: loraKeyB(block, target) };
  switch (target) {
    case 'q':
    case 'k':
    case 'v':
      return { weightKey: `${pre}.attn.qkv.weight`, rowOffset: ['q', 'k', 'v'].indexOf(target) * dim, ...keys };
    case 'proj':
      return { weightKey: `${pre}.attn.proj.weight`, rowOffset: 0, ...keys };
    case 'lin1':
    case 'lin2':
      return { weightKey: `${pre}.mlp.${target}.weight`, rowOffset: 0, ...keys };
  }
}

/** Every weight a spec adapts, in loraLayout's order. */
export function mergeTargets(cfg: SamConfig, spec: LoraSpec): MergeTarget[] {
  const out: MergeTarget[] = [];
  for (const { key } of loraLayout(cfg, spec)) {
    const enc = /^blocks\.(\d+)\.a_(\w+)$/.exec(key);
    if (enc) out.push(encoderTarget(Number(enc[1]), enc[2] as EncoderTarget, cfg.dim));
    else if (key.endsWith('.lora_a')) {
      const prefix = key.slice(0, -'.lora_a'.length);
      out.push({ weightKey: `${prefix}.weight`, rowOffset: 0, keyA: decoderLoraKeyA(prefix), keyB: decoderLoraKeyB(prefix) });
    }
  }
  return out;
}

/** w[rowOffset + o, i] += scale * sum_k b[o, k] a[k, i], accumulated in float64 per row. */
function addLowRank(w: Float32Array, inDim: number, rowOffset: number, a: Float32Array, b: Float32Array, rank: number, scale: number): void {
  const outDim = b.length / rank;
  const acc = new Float64Array(inDim);
  for (let o = 0; o < outDim; o++) {
    acc.fill(0);
    for (let k = 0; k < rank; k++) {
      const bk = b[o * rank + k]!;
      if (bk === 0) continue;
      const rowA = k * inDim;
      for (let i = 0; i < inDim; i++) acc[i]! += bk * a[rowA + i]!;
    }
    const row = (rowOffset + o) * inDim;
    for (let i = 0; i < inDim; i++) w[row + i] = w[row + i]! + scale * acc[i]!;
  }
}

/**
 * The merged state dict. `params` holds what an inference graph of this model is fed at run time
 * (eval_model.ts's EvalModel.params): the spec's adapters under native keys and, when the run
 * trained the decoder, every mask_decoder.* weight, which replaces the base weight before the
 * decoder adapters are added. Unchanged tensors are shared with `state`, changed ones are copies.
 */
export function mergeLora(cfg: SamConfig, state: StateDict, spec: LoraSpec | null, params: ReadonlyMap<string, Float32Array>): Map<string, HostTensor> {
  const merged = new Map<string, HostTensor>();
  for (const [key, t] of state) {
    const replaced = params.get(key);
    if (replaced && replaced.length !== t.data.length) throw new Error(`merge: ${key} has ${replaced.length} values, the model needs [${t.shape.join(', ')}]`);
    merged.set(key, replaced ? { shape: [...t.shape], data: replaced } : t);
  }
  if (!spec) return merged;
  const copied = new Set<string>();
  const scale = spec.alpha / spec.rank;
  for (const target of mergeTargets(cfg, spec)) {
    const base = merged.get(target.weightKey);
    const a = params.get(target.keyA);
    const b = params.get(target.keyB);
    if (!base) throw new Error(`merge: the model has no ${target.weightKey} for adapter ${target.keyA}`);
    if (!a || !b) throw new Error(`merge: adapter ${!a ? target.keyA : target.keyB} is missing`);
    const inDim = base.shape[1]!;
    const outDim = b.length / spec.rank;
    if (a.length !== spec.rank * inDim || !Number.isInteger(outDim) || target.rowOffset + outDim > base.shape[0]!) {
      throw new Error(`merge: adapter ${target.keyA} / ${target.keyB} does not fit ${target.weightKey} [${base.shape.join(', ')}]`);
    }
    // Copy once before the first update: the base state (and a fed decoder) stay untouched.
    if (!copied.has(target.weightKey)) {
      merged.set(target.weightKey, { shape: [...base.shape], data: Float32Array.from(base.data) });
      copied.add(target.weightKey);
    }
    addLowRank(merged.get(target.weightKey)!.data, inDim, target.rowOffset, a, b, spec.rank, scale);
  }
  return merged;
}
