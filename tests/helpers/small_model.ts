// A small SAM for the export tests: the smallest PyTorch fixture (real weights, sam.pth), or the
// tiny generated variant when no fixtures are around; random LoRAs that change every output; and
// the relative error the export is held to.

import * as path from 'node:path';
import { loadSamCheckpoint } from '../../shared/sam/checkpoint.js';
import type { SamConfig } from '../../shared/sam/config.js';
import { generateStateDict } from '../../shared/sam/generated_weights.js';
import { DECODER_TARGETS, ENCODER_TARGETS, type LoraSpec, initLora } from '../../shared/sam/lora.js';
import type { StateDict } from '../../shared/sam/params.js';
import type { HostTensor } from '../../shared/tensor/host_tensor.js';
import { TINY } from '../tools/evaluation/tiny_model.js';
import { fixtureDirs, readMeta } from './fixtures.js';
import { Rng } from './rng.js';

export interface SmallModel {
  config: SamConfig;
  state: StateDict;
  /** The fixture's sam.pth, or null for generated weights. */
  checkpoint: string | null;
}

/** The smallest fixture by img x dim (found by reading meta.json, not by name), else TINY generated. */
export async function smallModel(): Promise<SmallModel> {
  const smallest = fixtureDirs()
    .map((d) => ({ d, m: readMeta(d) }))
    .sort((a, b) => a.m.config.img * a.m.config.dim - b.m.config.img * b.m.config.dim)[0];
  if (!smallest) return { config: TINY, state: generateStateDict(TINY, 4), checkpoint: null };
  const file = path.join(smallest.d, 'sam.pth');
  const loaded = await loadSamCheckpoint(file, { dheads: smallest.m.config.dheads });
  return { config: loaded.config, state: loaded.state, checkpoint: file };
}

/** Every encoder and decoder target, alpha = 2 * rank (scale 2, so a wrong scale shows). */
export function fullSpec(cfg: SamConfig, rank = 4): LoraSpec {
  return { rank, alpha: 2 * rank, blocks: [...Array(cfg.depth).keys()], targets: [...ENCODER_TARGETS], decoderTargets: [...DECODER_TARGETS] };
}

/** Adapters with A as initialised and B random, non-zero: each one changes the model. */
export function randomLora(cfg: SamConfig, spec: LoraSpec, seed: number, bScale = 0.05): Map<string, HostTensor> {
  const lora = initLora(cfg, spec, seed);
  const rng = new Rng(seed + 1);
  for (const [k, t] of lora) if (k.includes('.b_') || k.endsWith('.lora_b')) t.data.forEach((_, i) => (t.data[i] = bScale * rng.normal()));
  return lora;
}

/** max |actual - expected| / max |expected|. */
export function relErr(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) throw new Error(`relErr: ${actual.length} values vs ${expected.length}`);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i]! - expected[i]!));
    scale = Math.max(scale, Math.abs(expected[i]!));
  }
  return diff / Math.max(scale, 1e-30);
}

export const EXPORT_TOLERANCE = 1e-5;
