// The training configuration as written in YAML (snake_case sections), its zod schema, the resolved
// TrainConfig (camelCase, paths absolute, every default filled in), and the mapping of the reference
// project's upper-case keys onto ours.

import { z } from 'zod';
import { ARENA_EXTEND_STRATEGIES, CUDNN_CONV_ALGO_SEARCHES, type CudaSettings, unappliableCudaSettings } from '../graph/cuda_settings.js';
import type { SamConfig, VariantName } from '../sam/config.js';
import { DECODER_TARGETS, type DecoderTarget, ENCODER_TARGETS, type EncoderTarget } from '../sam/lora.js';
import { MEMORY_MODES, type MemoryMode } from '../sam/memory.js';

const posInt = z.number().int().min(1);
const nonNegInt = z.number().int().min(0);
const positive = z.number().positive();
const nonNeg = z.number().min(0);
const beta = z.number().min(0).lt(1);
const pathString = z.string().min(1);
const factorRange = z.tuple([nonNeg, nonNeg]);

export const VARIANT_NAMES = ['auto', 'vit_b', 'vit_l', 'vit_h'] as const;
export const PROMPT_MODES = ['box', 'points', 'mixed'] as const;
export const OPTIMIZERS = ['adam', 'adamw'] as const;
export const DATA_FORMATS = ['auto', 'reference', 'instance', 'coco'] as const;
export const BAD_SAMPLE_POLICIES = ['fail', 'skip'] as const;
export const DEVICES = ['cpu', 'cuda'] as const;
export const LOSSES = ['dice_ce'] as const;
/** Training-graph precisions (bf16 cannot cross onnxruntime-node's JS boundary; fp16 can). */
export const PRECISIONS = ['fp32', 'fp16'] as const;
export type Precision = (typeof PRECISIONS)[number];
/** Largest initial loss scale accepted: 2^24 (PyTorch's GradScaler starts at 2^16). */
export const MAX_INITIAL_LOSS_SCALE = 2 ** 24;

/** A custom variant: SamConfig's fields except dheads (that is model.decoder_heads). */
export const customVariantSchema = z.strictObject({
  dim: posInt,
  depth: posInt,
  heads: posInt,
  glob: z.array(nonNegInt),
  img: posInt,
  window: posInt,
  pdim: posInt,
  dmlp: posInt,
  iouh: posInt,
});

export const rawConfigSchema = z.strictObject({
  model: z.strictObject({
    checkpoint: pathString.nullable(),
    variant: z.union([
      z.enum(VARIANT_NAMES, { error: 'must be auto, vit_b, vit_l, vit_h, or a mapping of custom variant fields' }),
      customVariantSchema,
    ]),
    decoder_heads: posInt,
  }),
  lora: z.strictObject({
    rank: posInt,
    alpha: positive.nullable(),
    blocks: z.union([z.literal('all', { error: 'must be "all" or a list of block indexes' }), z.array(nonNegInt).min(1)]),
    targets: z.array(z.enum(ENCODER_TARGETS)),
    decoder_targets: z.array(z.enum(DECODER_TARGETS)),
  }),
  train: z.strictObject({
    epochs: nonNegInt,
    batch_size: posInt,
    objects_per_image: posInt,
    grad_accumulation: posInt,
    max_skipped_steps: posInt,
    train_decoder: z.boolean(),
    seed: nonNegInt,
    prompt: z.strictObject({
      mode: z.enum(PROMPT_MODES),
      points: posInt,
      negative_points: nonNegInt,
      box_jitter: nonNegInt,
      box_probability: z.number().min(0).max(1),
    }),
    augment: z.strictObject({
      hflip: z.union([z.boolean(), z.number().min(0).max(1)]),
      brightness: factorRange,
      contrast: factorRange,
      saturation: factorRange,
    }),
    loss: z.enum(LOSSES),
    memory: z.enum(MEMORY_MODES),
    attention_chunk_mb: posInt,
    micro_batch: posInt,
  }),
  optimizer: z.strictObject({
    name: z.enum(OPTIMIZERS),
    lr: positive,
    weight_decay: nonNeg,
    betas: z.tuple([beta, beta]),
    eps: positive,
  }),
  schedule: z.strictObject({
    warmup_steps: nonNegInt,
    cosine: z.boolean(),
    min_lr: nonNeg,
  }),
  grad_clip: z.strictObject({
    max_norm: positive.nullable(),
  }),
  eval: z.strictObject({
    interval_steps: posInt.nullable(),
    interval_epochs: posInt.nullable(),
    early_stopping: z.strictObject({
      patience: posInt.nullable(),
      min_delta: nonNeg,
    }),
  }),
  checkpoint: z.strictObject({
    dir: pathString,
    interval_steps: posInt.nullable(),
    keep: posInt.nullable(),
  }),
  data: z.strictObject({
    train: pathString.nullable(),
    test: pathString.nullable(),
    format: z.enum(DATA_FORMATS),
    annotations: pathString.nullable(),
    on_bad_sample: z.enum(BAD_SAMPLE_POLICIES),
  }),
  runtime: z
    .strictObject({
      device: z.enum(DEVICES),
      gpu: nonNegInt,
      threads: nonNegInt,
      gpu_mem_limit: posInt.nullable(),
      arena_extend_strategy: z.enum(ARENA_EXTEND_STRATEGIES),
      cudnn_conv_algo_search: z.enum(CUDNN_CONV_ALGO_SEARCHES),
      use_tf32: z.boolean(),
      precision: z.enum(PRECISIONS, { error: 'must be fp32 or fp16 (bf16 cannot cross onnxruntime-node\'s JS boundary)' }),
      loss_scale: z.strictObject({
        initial: z.number().min(1).max(MAX_INITIAL_LOSS_SCALE),
        growth_interval: posInt,
      }),
    })
    .superRefine((r, ctx) => {
      // Valid values this build cannot hand to the CUDA provider: refused at load, before any work.
      // Only values that passed their own checks (zod runs this after a field's issue too).
      const ok = (key: keyof typeof r): boolean => !ctx.issues.some((i) => i.path?.[0] === key);
      for (const p of unappliableCudaSettings(cudaSettingsOf(r))) {
        const key = p.key.slice('runtime.'.length) as keyof typeof r;
        if (ok(key)) ctx.addIssue({ code: 'custom', path: [key], message: p.message });
      }
    }),
});

/** The CUDA provider settings of a runtime section (YAML form). */
export function cudaSettingsOf(r: { gpu_mem_limit: number | null; arena_extend_strategy: CudaSettings['arenaExtendStrategy']; cudnn_conv_algo_search: CudaSettings['cudnnConvAlgoSearch']; use_tf32: boolean }): CudaSettings {
  return { gpuMemLimit: r.gpu_mem_limit, arenaExtendStrategy: r.arena_extend_strategy, cudnnConvAlgoSearch: r.cudnn_conv_algo_search, useTf32: r.use_tf32 };
}

/** A configuration as written in YAML, after defaults are filled in and before paths are resolved. */
export type RawConfig = z.infer<typeof rawConfigSchema>;

export type CustomVariant = Omit<SamConfig, 'dheads'>;

/** The fully resolved training configuration: every default filled in, every path absolute. */
export interface TrainConfig {
  /** The config file (absolute path) or `<default config>`; not part of the YAML. */
  source: string;
  model: {
    /** Absolute path of the SAM checkpoint (.pth or .safetensors); null = the bundled pretrained small SAM (models/), or generated weights of a declared variant. */
    checkpoint: string | null;
    /** auto: inferred from the checkpoint's shapes (tiny variant when checkpoint is null); a name or custom fields: asserted. */
    variant: 'auto' | VariantName | CustomVariant;
    /** Mask-decoder attention heads (not visible in checkpoint shapes). */
    decoderHeads: number;
  };
  lora: {
    rank: number;
    /** Update scale is alpha / rank; defaults to rank (the reference arithmetic). */
    alpha: number;
    /** Encoder blocks with adapters; range checked against the model by checkModelFit. */
    blocks: 'all' | number[];
    targets: EncoderTarget[];
    decoderTargets: DecoderTarget[];
  };
  train: {
    epochs: number;
    batchSize: number;
    objectsPerImage: number;
    gradAccumulation: number;
    /** Consecutive skipped steps (non-finite loss, gradient or update) after which the run stops. */
    maxSkippedSteps: number;
    trainDecoder: boolean;
    seed: number;
    /** As shared/data/prompts.ts: box jitter is numpy randint(0, boxJitter) per side; mixed needs 1 point, 0 negatives. */
    prompt: { mode: (typeof PROMPT_MODES)[number]; points: number; negativePoints: number; boxJitter: number; boxProbability: number };
    /** As shared/data/augment.ts: flip probability, factor ranges [lo, hi]; [1, 1] is off. */
    augment: { hflip: number; brightness: [number, number]; contrast: [number, number]; saturation: [number, number] };
    loss: (typeof LOSSES)[number];
    /** Encoder blocks the backward pass recomputes instead of keeping their activations (shared/sam/memory.ts). */
    memory: MemoryMode;
    /** MiB of attention map per query chunk in recomputed global-attention blocks. */
    attentionChunkMb: number;
    /** Images per session run of the training graph: a worker's share runs in micro-batches of this many, their gradients summed. */
    microBatch: number;
  };
  optimizer: {
    name: (typeof OPTIMIZERS)[number];
    lr: number;
    weightDecay: number;
    betas: [number, number];
    eps: number;
  };
  schedule: { warmupSteps: number; cosine: boolean; minLr: number };
  gradClip: { maxNorm: number | null };
  eval: {
    intervalSteps: number | null;
    intervalEpochs: number | null;
    earlyStopping: { patience: number | null; minDelta: number };
  };
  checkpoint: { dir: string; intervalSteps: number | null; keep: number | null };
  data: {
    /** Absolute path of the training split; null = generate the demo dataset. */
    train: string | null;
    /** Absolute path of the test split; null = none (the demo's own split when train is null). */
    test: string | null;
    format: (typeof DATA_FORMATS)[number];
    /** COCO annotation file, relative to each split directory; null: found by the dataset reader. */
    annotations: string | null;
    onBadSample: (typeof BAD_SAMPLE_POLICIES)[number];
  };
  /** The CUDA provider's settings are CudaSettings' fields (cudaSettings() in shared/contract/runtime_options.ts). */
  runtime: {
    device: (typeof DEVICES)[number];
    gpu: number;
    threads: number;
    /** fp16: the training graph runs matmuls and convolutions in fp16, with dynamic loss scaling (coordinator/loss_scaling.ts). */
    precision: Precision;
    /** The dynamic loss scale of fp16 runs: its start, and the good steps in a row after which it doubles. */
    lossScale: { initial: number; growthInterval: number };
  } & CudaSettings;
}

/** The reference project's config.yaml keys and the keys of ours they set. */
export const REFERENCE_KEYS: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  DATASET: { TRAIN_PATH: 'data.train', TEST_PATH: 'data.test' },
  SAM: { CHECKPOINT: 'model.checkpoint', RANK: 'lora.rank' },
  TRAIN: { BATCH_SIZE: 'train.batch_size', NUM_EPOCHS: 'train.epochs' },
};

/** Keys holding filesystem paths resolved against the config file's directory (or the cwd for --set). */
export const PATH_KEYS = ['model.checkpoint', 'data.train', 'data.test', 'checkpoint.dir'] as const;

/** Keys whose --set value is taken verbatim as a string (no YAML parsing), except `null`. */
export const STRING_KEYS: ReadonlySet<string> = new Set([...PATH_KEYS, 'data.annotations']);

/** Keys a config file must set (null allowed: the demo / generated choice). */
export const REQUIRED_IN_FILE: Readonly<Record<string, string>> = {
  'model.checkpoint': 'the SAM checkpoint (.pth or .safetensors), or null for the bundled pretrained small SAM; reference form SAM.CHECKPOINT',
  'data.train': 'the training dataset directory, or null for the generated demo dataset; reference form DATASET.TRAIN_PATH',
};

/** Pairs of which setting one turns the other off (unless both are set in the same place, an error). */
export const EXCLUSIVE_PAIRS: readonly (readonly [string, string])[] = [['eval.interval_steps', 'eval.interval_epochs']];

type AnySchema = z.ZodType;

function childSchemas(s: AnySchema): Record<string, AnySchema>[] {
  if (s instanceof z.ZodObject) return [s.shape as Record<string, AnySchema>];
  if (s instanceof z.ZodNullable || s instanceof z.ZodOptional) return childSchemas(s.unwrap() as AnySchema);
  if (s instanceof z.ZodUnion) return (s.options as AnySchema[]).flatMap(childSchemas);
  return [];
}

/** The keys known under a path of the schema (top level for []); undefined when the path is unknown. */
export function knownKeys(path: readonly string[]): string[] | undefined {
  let shapes: Record<string, AnySchema>[] = [rawConfigSchema.shape as Record<string, AnySchema>];
  for (const seg of path) {
    const next = shapes.flatMap((sh) => (Object.hasOwn(sh, seg) ? childSchemas(sh[seg]!) : []));
    if (!shapes.some((sh) => Object.hasOwn(sh, seg))) return undefined;
    shapes = next;
  }
  return [...new Set(shapes.flatMap((sh) => Object.keys(sh)))];
}
