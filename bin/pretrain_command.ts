// `sam-lora pretrain`: train the small SAM that the demo job starts from (pretrain/pretrain.ts),
// from seeded weights, on the generated source domain, and write it as a SAM checkpoint.

import * as path from 'node:path';
import { PRETRAIN_RECIPE, type PretrainRecipe, pretrainVariant } from '../pretrain/recipe.js';
import { initialPretrainState } from '../pretrain/initial_weights.js';
import { pretrain } from '../pretrain/pretrain.js';
import { loadSamCheckpoint } from '../shared/sam/checkpoint.js';
import type { SamConfig } from '../shared/sam/config.js';
import type { HostTensor } from '../shared/tensor/host_tensor.js';
import { readSafetensors, writeSafetensors } from '../shared/tensor/safetensors.js';
import { UsageError } from './cli_errors.js';
import { type ParsedArgs, defineCommand } from './define_command.js';
import { intOption, positiveNumberOption } from './number_options.js';

const R = PRETRAIN_RECIPE;
const USAGE = `usage: sam-lora pretrain --out FILE.safetensors [--seed N] [--batches N] [--batch N] [--refinements N]
                        [--lr X] [--warmup N] [--eval-every N] [--eval-images N] [--eval-seed N] [--threads N] [--init FILE]

  Trains every weight of the small SAM variant (the embedded configuration's) from seeded weights on
  the generated source domain (plain objects on simple backgrounds) with SAM's recipe: box and point
  prompts, points added from the error region with the previous mask fed back, the best of three
  masks for an ambiguous prompt, focal + dice loss, MSE on the IoU head. Writes a SAM state dict
  (loads as model.checkpoint / --checkpoint) with the recipe and results in its metadata.
  The defaults are the recipe of the bundled models/sam_tiny_pretrained.safetensors.

  --out FILE        the safetensors file to write
  --seed N          weights, data and prompt seed (default ${R.seed})
  --batches N       image batches; each is 1 + refinements updates (default ${R.batches})
  --batch N         images per batch (default ${R.batch})
  --refinements N   points added from the error region per object (default ${R.refinements})
  --lr X            peak learning rate, AdamW, cosine decay (default ${R.lr})
  --warmup N        warm-up updates (default ${R.warmup})
  --eval-every N    evaluate on the source test split every N batches, 0: only at the end (default ${R.evalEvery})
  --eval-images N   source test images (default ${R.evalImages})
  --eval-seed N     seed of the source test split (default ${R.evalSeed})
  --threads N       onnxruntime CPU threads, 0: its default (default 0)
  --init FILE       start from this checkpoint's weights (same variant) instead of seeded ones:
                    a further phase of training (data and prompts continue after the first phase's
                    when --seed is changed)
`;

/** The recipe and result a pretrained file records (a further phase keeps its history). */
async function pretrainRecord(file: string): Promise<Record<string, unknown>> {
  const { metadata } = await readSafetensors(file);
  const parse = (k: string): unknown => (metadata[k] ? (JSON.parse(metadata[k]) as unknown) : null);
  return { file: path.basename(file), recipe: parse('sam_lora_pretrain_recipe'), result: parse('sam_lora_pretrain_result') };
}

/** The weights of a checkpoint of the pretrained variant (a further phase), checked against it. */
async function initFrom(file: string, cfg: SamConfig): Promise<Map<string, HostTensor>> {
  const loaded = await loadSamCheckpoint(file, { dheads: cfg.dheads });
  const c = loaded.config;
  if (c.dim !== cfg.dim || c.depth !== cfg.depth || c.img !== cfg.img || c.pdim !== cfg.pdim) throw new Error(`--init ${file}: not the pretrained variant (dim ${c.dim}, depth ${c.depth}, img ${c.img}, pdim ${c.pdim})`);
  return new Map([...loaded.state].map(([k, t]) => [k, { shape: [...t.shape], data: Float32Array.from(t.data) }]));
}

const S = { type: 'string' } as const;
const PRETRAIN_OPTIONS = {
  out: S, init: S, seed: S, batches: S, batch: S, refinements: S, lr: S, warmup: S,
  'eval-every': S, 'eval-images': S, 'eval-seed': S, threads: S,
} as const;

async function runPretrain({ values }: ParsedArgs<typeof PRETRAIN_OPTIONS>): Promise<number> {
  const out = values.out;
  if (typeof out !== 'string' || out === '') throw new UsageError('missing --out FILE.safetensors');
  const str = (k: keyof typeof PRETRAIN_OPTIONS): string | undefined => values[k];
  const recipe: PretrainRecipe = {
    ...R,
    seed: intOption('seed', str('seed'), R.seed, Number.MIN_SAFE_INTEGER),
    batches: intOption('batches', str('batches'), R.batches, 1),
    batch: intOption('batch', str('batch'), R.batch, 1),
    refinements: intOption('refinements', str('refinements'), R.refinements, 0),
    lr: positiveNumberOption('lr', str('lr'), R.lr),
    warmup: intOption('warmup', str('warmup'), R.warmup, 0),
    evalEvery: intOption('eval-every', str('eval-every'), R.evalEvery, 0),
    evalImages: intOption('eval-images', str('eval-images'), R.evalImages, 1),
    evalSeed: intOption('eval-seed', str('eval-seed'), R.evalSeed, Number.MIN_SAFE_INTEGER),
  };
  const threads = intOption('threads', str('threads'), 0, 0);
  const cfg = pretrainVariant();
  const init = str('init');
  const state = init === undefined ? initialPretrainState(cfg, recipe.seed) : await initFrom(init, cfg);
  const log = (line: string): void => void process.stdout.write(`${line}\n`);
  log(`pretraining the ${cfg.img} px variant (dim ${cfg.dim}, depth ${cfg.depth}, pdim ${cfg.pdim}) from seed ${recipe.seed}: ${recipe.batches} batches of ${recipe.batch}, ${recipe.refinements} refinements`);
  const previousRecord = init === undefined ? null : await pretrainRecord(init);
  const started = performance.now();
  const save = (result: object): Promise<void> =>
    writeSafetensors(out, state, { format: 'pt', sam_lora_pretrain_recipe: JSON.stringify({ ...recipe, ...(init === undefined ? {} : { init: previousRecord }) }), sam_lora_pretrain_result: JSON.stringify(result) });
  const onEval = async (batch: number, e: object): Promise<void> => {
    if (batch < recipe.batches) await save({ partial: true, batch, seconds: Math.round((performance.now() - started) / 1000), source_test: e });
  };
  const result = await pretrain({ cfg, state, ...recipe, threads, log, onEval });
  const final = result.evals.at(-1)!;
  await save({ batch: recipe.batches, seconds: Math.round(result.seconds), source_test: final });
  log(`wrote ${out} after ${Math.round(result.seconds)} s: source test Dice ${final.dice.toFixed(4)}, IoU ${final.iou.toFixed(4)}, IoU-prediction correlation ${final.iouCorrelation.toFixed(3)}`);
  return 0;
}

export const pretrainCommand = defineCommand({
  name: 'pretrain',
  summary: 'train the small base SAM from scratch on generated data with SAM\'s recipe (what the demo job starts from)',
  usage: USAGE,
  options: PRETRAIN_OPTIONS,
  run: runPretrain,
});
