// The recipe of the bundled pretrained small SAM (models/sam_tiny_pretrained.safetensors): what
// `sam-lora pretrain` runs by default. Changing a number here means training and committing the
// file again (README, "The bundled base model").

import { TINY_VARIANT } from '../shared/config/defaults.js';
import type { SamConfig } from '../shared/sam/config.js';

export interface PretrainRecipe {
  seed: number;
  batches: number;
  batch: number;
  refinements: number;
  lr: number;
  minLr: number;
  warmup: number;
  weightDecay: number;
  evalEvery: number;
  evalImages: number;
  /** Seed of the source test split the evaluations score. */
  evalSeed: number;
}

export const PRETRAIN_RECIPE: Readonly<PretrainRecipe> = Object.freeze({
  seed: 0,
  batches: 1000,
  batch: 8,
  refinements: 2,
  lr: 1e-3,
  minLr: 1e-5,
  warmup: 150,
  weightDecay: 0.05,
  evalEvery: 250,
  evalImages: 96,
  evalSeed: 0,
});

/** The pretrained variant: the embedded configuration's tiny variant, 8 decoder heads. */
export function pretrainVariant(): SamConfig {
  return { ...TINY_VARIANT, glob: [...TINY_VARIANT.glob], dheads: 8 };
}
