// Defaults of every configuration key, and the embedded configuration `sam-lora train` uses without
// --config (the generated demo dataset and a tiny generated SAM variant). README.md ("Configuration") documents the
// same table; tests/config checks that the two agree.

import type { CustomVariant, RawConfig } from './schema.js';
import { DEFAULT_ATTENTION_CHUNK_MB, DEFAULT_MEMORY_MODE } from '../sam/memory.js';

/**
 * Images per session run of the training graph (train.micro_batch): a worker runs its share of a
 * step as micro-batches of this many and sums their gradients, so memory stays at this batch's peak.
 */
export const DEFAULT_MICRO_BATCH = 1;

/** Source name of the embedded default configuration in messages and TrainConfig.source. */
export const DEFAULT_SOURCE = '<default config>';

/**
 * The SAM variant generated when model.checkpoint is null and model.variant is auto: small enough to
 * train on a CPU in seconds. Decoder heads come from model.decoder_heads (8, as every SAM).
 */
export const TINY_VARIANT: Readonly<CustomVariant> = Object.freeze({
  dim: 64,
  depth: 4,
  heads: 4,
  glob: [1, 3],
  img: 128,
  window: 4,
  pdim: 64,
  dmlp: 256,
  iouh: 64,
});

const DEFAULTS: RawConfig = {
  model: { checkpoint: null, variant: 'auto', decoder_heads: 8 },
  lora: { rank: 4, alpha: null, blocks: 'all', targets: ['q', 'v'], decoder_targets: [] },
  train: {
    epochs: 50,
    batch_size: 1,
    objects_per_image: 1,
    grad_accumulation: 1,
    max_skipped_steps: 20,
    train_decoder: false,
    seed: 0,
    prompt: { mode: 'box', points: 1, negative_points: 0, box_jitter: 20, box_probability: 0.5 },
    augment: { hflip: 0, brightness: [1, 1], contrast: [1, 1], saturation: [1, 1] },
    loss: 'dice_ce',
    memory: DEFAULT_MEMORY_MODE,
    attention_chunk_mb: DEFAULT_ATTENTION_CHUNK_MB,
    micro_batch: DEFAULT_MICRO_BATCH,
  },
  optimizer: { name: 'adam', lr: 1e-4, weight_decay: 0, betas: [0.9, 0.999], eps: 1e-8 },
  schedule: { warmup_steps: 0, cosine: false, min_lr: 0 },
  grad_clip: { max_norm: null },
  eval: { interval_steps: null, interval_epochs: 1, early_stopping: { patience: null, min_delta: 0 } },
  checkpoint: { dir: 'runs', interval_steps: null, keep: 3 },
  data: { train: null, test: null, format: 'auto', annotations: null, on_bad_sample: 'fail' },
  runtime: { device: 'cpu', gpu: 0, threads: 0, gpu_mem_limit: null, arena_extend_strategy: 'next_power_of_two', cudnn_conv_algo_search: 'exhaustive', use_tf32: true, precision: 'fp32', loss_scale: { initial: 65536, growth_interval: 2000 } },
};

/** A fresh copy of the default of every key (YAML form: snake_case, paths unresolved). */
export function defaultRawConfig(): RawConfig {
  return structuredClone(DEFAULTS);
}

/** The embedded configuration of `sam-lora train` with no --config (relative paths: the cwd). */
export const DEFAULT_CONFIG_YAML = `# sam-lora's embedded training configuration (used when no --config is given): the demo job.
# The bundled small SAM, pretrained by this project on plain objects (models/, \`sam-lora pretrain\`),
# gets LoRA adapters (its own weights frozen) on the generated demo dataset, a domain it is weak on
# (objects with holes, low contrast, textured backgrounds), on the CPU. Every key not written here
# takes its default (README, "Configuration").
model:
  checkpoint: null   # the bundled pretrained small SAM (TINY_VARIANT's shape)
lora:
  rank: 16
  targets: [q, v]    # the reference's image-encoder adapters
  # Adapters on the mask decoder's attention too (its weights stay frozen): q and v alone stop near
  # Dice 0.73 on this domain (every encoder projection: 0.81), with these 0.87 (README, "The two commands").
  decoder_targets: [q_proj, k_proj, v_proj, out_proj]
data:
  train: null        # generate the demo dataset (it has its own test split)
train:
  epochs: 12
  batch_size: 4
  prompt:
    box_jitter: 5      # the model sees 128 px (the reference's 20 px is for 1024 px)
  augment:
    hflip: 0.5
optimizer:
  lr: 0.004
schedule:
  warmup_steps: 20
  cosine: true
eval:
  interval_epochs: 4
`;
