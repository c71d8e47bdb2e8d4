// `sam-lora export`: one model (the base weights of a config or --checkpoint, optionally with a LoRA:
// the decoder rule of eval_model.ts applies) written as files other tools load:
//   merged.safetensors  the SAM state dict with the LoRA folded in (merge_lora.ts), original keys
//   encoder.onnx        images [1, 3, img, img] (normalised, zero-padded) -> image_embeddings
//                       (+ encoder.onnx.data beside it when the weights exceed 1 GiB)
//   decoder.onnx        the official SAM ONNX decoder interface (onnx_decoder_export.ts)
// Both ONNX models hold the merged weights, so they compute what the LoRA model computes.

import { mkdirSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import type { Graph } from '../../shared/graph/graph.js';
import { saveModel } from '../../shared/graph/serialize.js';
import type { SamConfig } from '../../shared/sam/config.js';
import { mergeLora } from '../../shared/sam/merge_lora.js';
import { buildOnnxDecoderGraph } from '../../shared/sam/onnx_decoder_export.js';
import { buildEncoderGraph } from '../../shared/sam/sam_graph.js';
import { writeSafetensors } from '../../shared/tensor/safetensors.js';
import { type BaseModelOptions, type EvalModel, baseEvalModel, loadBaseModel, loadLoraModel } from '../evaluation/eval_model.js';

export const EXPORT_FILES = { merged: 'merged.safetensors', encoder: 'encoder.onnx', decoder: 'decoder.onnx' } as const;

export interface ExportOptions extends BaseModelOptions {
  /** A LoRA file (either format); a decoder.safetensors beside it replaces the mask decoder. */
  lora?: string;
  out: string;
  progress?: (line: string) => void;
  /** Models whose weights exceed this many bytes keep them in `<model>.onnx.data` (default 1 GiB). */
  externalThresholdBytes?: number;
}

export interface ExportedModel {
  file: string;
  /** External weights beside the model, or null when they are inside it. */
  data: string | null;
  inputs: { name: string; shape: (number | string)[] }[];
  outputs: { name: string; shape: (number | string)[] }[];
}

export interface ExportResult {
  weights: string;
  lora: string | null;
  decoderWeights: string | null;
  variant: SamConfig;
  /** Weights changed by the merge (checkpoint keys). */
  adapted: number;
  files: { merged: string; encoder: ExportedModel; decoder: ExportedModel };
}

function describeIo(graph: Graph, tensors: readonly { name: string; shape: readonly number[] }[]): ExportedModel['inputs'] {
  return tensors.map((t) => {
    const symbolic = graph.dimParams.get(t.name);
    return { name: t.name, shape: t.shape.map((d, i) => symbolic?.get(i) ?? d) };
  });
}

function writeModel(graph: Graph, file: string, threshold: number | undefined): ExportedModel {
  const saved = saveModel(graph, file, threshold === undefined ? {} : { externalThresholdBytes: threshold });
  // A data file from an earlier, larger export would be stale next to a self-contained model.
  if (!saved.dataPath) rmSync(`${file}.data`, { force: true });
  return { file, data: saved.dataPath ?? null, inputs: describeIo(graph, graph.inputs), outputs: describeIo(graph, graph.outputs) };
}

export async function runExport(o: ExportOptions): Promise<ExportResult> {
  const say = o.progress ?? (() => undefined);
  const base = await loadBaseModel(o);
  say(`SAM: ${base.description}`);
  const model: EvalModel = o.lora ? await loadLoraModel(o.lora, 'lora', base) : baseEvalModel();
  if (model.file) say(`LoRA: ${model.file}${model.decoderFile ? ` (decoder weights ${model.decoderFile})` : ''}`);

  const merged = mergeLora(base.sam, base.state, model.spec, model.params);
  const adapted = [...merged].filter(([k, t]) => base.state.get(k) !== t).length;
  mkdirSync(o.out, { recursive: true });
  const mergedFile = path.join(o.out, EXPORT_FILES.merged);
  // format=pt: the tag torch-side safetensors loaders expect; the keys are SAM's state_dict keys.
  await writeSafetensors(mergedFile, merged, { format: 'pt' });
  say(`wrote ${mergedFile} (${merged.size} tensors, ${adapted} changed by the merge)`);

  const encoder = writeModel(buildEncoderGraph({ config: base.sam, state: merged, batch: 1 }).graph, path.join(o.out, EXPORT_FILES.encoder), o.externalThresholdBytes);
  say(`wrote ${encoder.file}${encoder.data ? ` and ${encoder.data}` : ''}`);
  const decoder = writeModel(buildOnnxDecoderGraph(base.sam, merged), path.join(o.out, EXPORT_FILES.decoder), o.externalThresholdBytes);
  say(`wrote ${decoder.file}${decoder.data ? ` and ${decoder.data}` : ''}`);

  return {
    weights: base.description,
    lora: model.file,
    decoderWeights: model.decoderFile,
    variant: base.sam,
    adapted,
    files: { merged: mergedFile, encoder, decoder },
  };
}
