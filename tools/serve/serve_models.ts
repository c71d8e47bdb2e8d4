// The models the web demo compares: the base SAM weights and, with --lora, the same weights with the
// LoRA (and its decoder.safetensors, by the decoder rule of evaluation/eval_model.ts). Each gets its
// own inference sessions, built on first use and kept for the server's life.

import { variantName } from '../../shared/config/index.js';
import type { LoraSpec } from '../../shared/sam/lora.js';
import type { InferenceCompute } from '../../shared/sam/inference_compute.js';
import { type BaseModel, type BaseModelOptions, type EvalModel, baseEvalModel, inferenceFor, loadBaseModel, loadLoraModel } from '../evaluation/eval_model.js';

export const LORA_MODEL = 'lora';

export interface ServeModel {
  model: EvalModel;
  inference: InferenceCompute;
}

/** What GET /api/info says about one model. */
export interface ModelInfo {
  name: string;
  /** The LoRA file (its folder and name); null for the base model. */
  lora: string | null;
  /** The decoder.safetensors used, or null. */
  decoder: string | null;
  spec: Pick<LoraSpec, 'rank' | 'alpha' | 'targets'> | null;
}

/** What GET /api/info says about the models. */
export interface ModelsInfo {
  /** vit_b / vit_l / vit_h, or a description of a custom variant. */
  variant: string;
  /** Model input size (px, square). */
  img: number;
  /** "checkpoint FOLDER/FILE", "the bundled base model (FILE)" or "generated weights (seed N)". */
  weights: string;
  device: string;
  models: ModelInfo[];
}

export interface ServeModels {
  base: BaseModel;
  /** base first, then the LoRA when there is one. */
  models: ServeModel[];
  info: ModelsInfo;
  release(): Promise<void>;
}

export interface ServeModelOptions extends BaseModelOptions {
  /** A LoRA file (either format). */
  lora?: string;
}

/** A file as /api/info shows it: its folder and name, never the absolute path (the server's layout is not the page's business). */
export function shortPath(file: string): string {
  return file.split(/[\\/]/).filter(Boolean).slice(-2).join('/');
}

function describeVariant(base: BaseModel): string {
  const name = variantName(base.sam);
  return name === 'a custom variant' ? `custom (dim ${base.sam.dim}, depth ${base.sam.depth}, ${base.sam.img} px)` : name;
}

/** The base weights for /api/info: file names as FOLDER/FILE, never an absolute path. */
function describeWeights(base: BaseModel): string {
  if (base.config.model.checkpoint) return `checkpoint ${shortPath(base.config.model.checkpoint)}`;
  if (base.checkpoint) return `the bundled base model (${shortPath(base.checkpoint)})`;
  return base.description;
}

export async function loadServeModels(o: ServeModelOptions): Promise<ServeModels> {
  const base = await loadBaseModel(o);
  const evalModels = [baseEvalModel()];
  if (o.lora !== undefined) evalModels.push(await loadLoraModel(o.lora, LORA_MODEL, base));
  const models = evalModels.map((model): ServeModel => ({ model, inference: inferenceFor(model, base) }));
  const info: ModelsInfo = {
    variant: describeVariant(base),
    img: base.sam.img,
    weights: describeWeights(base),
    device: base.config.runtime.device,
    models: evalModels.map((m) => ({
      name: m.name,
      lora: m.file === null ? null : shortPath(m.file),
      decoder: m.decoderFile === null ? null : shortPath(m.decoderFile),
      spec: m.spec ? { rank: m.spec.rank, alpha: m.spec.alpha, targets: m.spec.targets } : null,
    })),
  };
  return {
    base,
    models,
    info,
    async release() {
      for (const m of models) await m.inference.release();
    },
  };
}
