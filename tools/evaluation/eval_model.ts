// The models `sam-lora eval` and `predict` run: the SAM weights of a config (or a --checkpoint), and
// on top of them, per LoRA file, its adapters and possibly trained mask-decoder weights.
//
// The SAM weights come from setupModel, exactly as a training run gets them: model.checkpoint, or,
// when it is null, the bundled pretrained small SAM (or, with a declared variant, seeded generated weights). A run directory's
// config.yaml therefore reproduces the weights a demo run trained its LoRA on. --checkpoint sets
// model.checkpoint (over the config's, when both are given).
//
// The decoder rule. The trainer writes `decoder.safetensors` beside `lora.safetensors` in each
// checkpoint directory when the run trained the mask decoder (train.train_decoder); a LoRA with
// mask-decoder adapters keeps those adapters in the LoRA file itself. So: when a file named
// `decoder.safetensors` sits in the same directory as a LoRA file, its weights replace the SAM mask
// decoder for that model (fed at run time: InferenceCompute with trainDecoder), whatever the LoRA
// holds; it must hold every mask_decoder.* tensor of the model with the model's shapes, nothing else.
// Without one, the model's own decoder is used. The untuned "base" model never uses one.

import { existsSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { type TrainConfig, loadConfig } from '../../shared/config/index.js';
import type { RuntimeOptions } from '../../shared/graph/runtime.js';
import type { SamConfig } from '../../shared/sam/config.js';
import type { LoraSpec } from '../../shared/sam/lora.js';
import { checkLoraFitsModel, loadLora } from '../../shared/sam/lora_io.js';
import type { StateDict } from '../../shared/sam/params.js';
import { refuseNonFinite } from '../../shared/tensor/finite.js';
import { readSafetensors } from '../../shared/tensor/safetensors.js';
import { InferenceCompute } from '../../shared/sam/inference_compute.js';
import { runtimeOptions } from '../../shared/contract/runtime_options.js';
import { setupModel } from '../../shared/contract/model_setup.js';
import { BASE_MODEL } from './names.js';

export const DECODER_FILE = 'decoder.safetensors';

export interface BaseModelOptions {
  /** A training config (ours, the reference project's, or a run directory's config.yaml); default: the embedded one. */
  configPath?: string;
  /** A SAM checkpoint: sets model.checkpoint. */
  checkpoint?: string;
  /** --set overrides. */
  overrides?: Record<string, string>;
}

export interface BaseModel {
  config: TrainConfig;
  sam: SamConfig;
  state: StateDict;
  runtime: RuntimeOptions;
  /** The weights file (the configured checkpoint or the bundled base model); null for generated weights. */
  checkpoint: string | null;
  /** "checkpoint FILE", "the bundled base model (FILE)" or "generated weights (seed N)". */
  description: string;
}

/** One model to run: the base weights plus, for a LoRA, its adapters and decoder weights. */
export interface EvalModel {
  name: string;
  /** The LoRA file; null for the base model. */
  file: string | null;
  spec: LoraSpec | null;
  /** The decoder.safetensors used (see the decoder rule above), or null. */
  decoderFile: string | null;
  /** Runtime-fed tensors: LoRA adapters (native keys) and, with decoderFile, every mask_decoder.* weight. */
  params: Map<string, Float32Array>;
}

export async function loadBaseModel(o: BaseModelOptions): Promise<BaseModel> {
  const overrides = { ...(o.overrides ?? {}) };
  if (o.checkpoint !== undefined) overrides['model.checkpoint'] = o.checkpoint;
  const config = await loadConfig(o.configPath, overrides);
  const model = await setupModel(config);
  const description = config.model.checkpoint
    ? `checkpoint ${config.model.checkpoint}`
    : model.checkpoint
      ? `the bundled base model (${model.checkpoint})`
      : `generated weights (seed ${config.train.seed + 1})`;
  return { config, sam: model.sam, state: model.state, checkpoint: model.checkpoint, runtime: runtimeOptions(config), description };
}

export function baseEvalModel(): EvalModel {
  return { name: BASE_MODEL, file: null, spec: null, decoderFile: null, params: new Map() };
}

/** A --lora argument: a LoRA file, or a checkpoint directory (its lora.safetensors). */
export function resolveLoraPath(arg: string): string {
  try {
    if (statSync(arg).isDirectory()) return path.join(arg, 'lora.safetensors');
  } catch {
    // Not there: loadLora reports the missing file.
  }
  return arg;
}

/** The decoder.safetensors beside a LoRA file, if there is one. */
export function decoderFileFor(loraFile: string): string | null {
  const f = path.join(path.dirname(path.resolve(loraFile)), DECODER_FILE);
  return existsSync(f) ? f : null;
}

/** Reads decoder weights and checks them against the model's mask decoder (one error listing every problem). */
async function loadDecoder(file: string, state: StateDict): Promise<Map<string, Float32Array>> {
  const { tensors } = await readSafetensors(file);
  refuseNonFinite(tensors, file);
  const want = [...state.keys()].filter((k) => k.startsWith('mask_decoder.'));
  const problems: string[] = [];
  for (const k of want) {
    const t = tensors.get(k);
    const s = state.get(k)!.shape;
    if (!t) problems.push(`${k}: missing (the model needs [${s.join(', ')}])`);
    else if (t.shape.length !== s.length || t.shape.some((d, i) => d !== s[i])) problems.push(`${k}: [${t.shape.join(', ')}] but the model needs [${s.join(', ')}]`);
  }
  const wanted = new Set(want);
  for (const k of tensors.keys()) if (!wanted.has(k)) problems.push(`${k}: not a mask-decoder weight of this model`);
  if (problems.length) {
    const shown = problems.slice(0, 12);
    const more = problems.length > shown.length ? `\n  (+${problems.length - shown.length} more)` : '';
    throw new Error(`${file}: decoder weights do not fit the model (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n  ${shown.join('\n  ')}${more}`);
  }
  return new Map(want.map((k) => [k, tensors.get(k)!.data]));
}

/**
 * A LoRA file (either format) on the base model, with the decoder rule applied. Throws an error
 * naming the file when it is not a LoRA, does not fit the model, or its decoder file does not.
 */
export async function loadLoraModel(file: string, name: string, base: Pick<BaseModel, 'sam' | 'state'>): Promise<EvalModel> {
  const lora = await loadLora(file);
  checkLoraFitsModel(lora.spec, lora.tensors, base.sam, file);
  const params = new Map<string, Float32Array>();
  for (const [k, t] of lora.tensors) params.set(k, t.data);
  const decoderFile = decoderFileFor(file);
  if (decoderFile) for (const [k, v] of await loadDecoder(decoderFile, base.state)) params.set(k, v);
  return { name, file, spec: lora.spec, decoderFile, params };
}

/** The inference sessions of one model (release() them when done). */
export function inferenceFor(m: EvalModel, base: Pick<BaseModel, 'sam' | 'state' | 'runtime'>): InferenceCompute {
  return new InferenceCompute({
    config: base.sam,
    state: base.state,
    ...(m.spec ? { lora: m.spec } : {}),
    trainDecoder: m.decoderFile !== null,
    runtime: base.runtime,
  });
}

/** One line describing a model, for progress output. */
export function describeModel(m: EvalModel): string {
  if (!m.file) return `${m.name}: the untuned model`;
  const s = m.spec!;
  const decoder = m.decoderFile ? `, decoder weights ${m.decoderFile}` : '';
  const dec = s.decoderTargets?.length ? `, decoder adapters ${s.decoderTargets.join(',')}` : '';
  return `${m.name}: ${m.file} (rank ${s.rank}, alpha ${s.alpha}, targets ${s.targets.join(',') || 'none'}${dec}${decoder})`;
}
