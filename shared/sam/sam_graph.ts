// Whole-model graphs: the training graph (forward + DiceCE loss + gradients of every trainable
// tensor) and the inference graph. One graph per (variant, batch, prompts, trainable set); shapes
// are static because onnxruntime-node cannot override free dimensions.

import { grad } from '../graph/autodiff.js';
import { enableAutocast } from '../graph/autocast.js';
import { Graph, type Tensor } from '../graph/graph.js';
import * as op from '../graph/ops/index.js';
import { diceCELoss } from '../losses/dice_ce.js';
import { type SamConfig, gridSize, lowResSize } from './config.js';
import { imageEncoder } from './image_encoder.js';
import { type BoundLora, type LoraSpec, bindLora } from './lora.js';
import { maskDecoder, selectMasks } from './mask_decoder.js';
import type { MemoryOptions } from './memory.js';
import { ParamBinder, type StateDict } from './params.js';
import { LABEL_SLOTS, denseEmbeddings, densePositionEncoding, sparseEmbeddings } from './prompt_encoder.js';

/** Graph input and output names, shared by the worker, the evaluator and the tests. */
export const IO = {
  images: 'images', // [B, 3, img, img] normalised, zero-padded
  coords: 'point_coords', // [B*K, P, 2] model-frame pixels
  labels: 'point_labels_onehot', // [B*K, P, 5]
  gt: 'gt_masks', // [B*K, img, img] in {0, 1}, 0 outside the valid region
  valid: 'valid_masks', // [B*K, img, img] 1 inside the resized image, 0 in the padding
  weights: 'sample_weights', // [B*K] loss = sum(w_i * loss_i)
  maskInput: 'mask_input', // [B*K, 1, 4g, 4g] low-res mask prompt (logits), when enabled
  hasMask: 'has_mask_input', // [B*K] 1 where mask_input is used, 0 for the no-mask embedding
  loss: 'loss',
  perSample: 'per_sample_loss',
  lowRes: 'low_res_logits',
  iou: 'iou_predictions',
  embeddings: 'image_embeddings',
  gradPrefix: 'grad.',
  lossScale: 'loss_scale', // [] fp16 training graphs: the gradients are of loss * loss_scale
} as const;

export interface SamGraphOptions {
  config: SamConfig;
  state: StateDict;
  /** LoRA tensors become graph inputs (none when omitted). */
  lora?: LoraSpec;
  /** Mask-decoder weights become trainable inputs too. */
  trainDecoder?: boolean;
  /** Images per batch. */
  batch: number;
  /** Prompts (objects) per image, decoded against one encoder pass. */
  promptsPerImage?: number;
  /** Sparse tokens per prompt (2 for a box; points + 1 padding point without a box). */
  promptTokens: number;
  /** Inference only: output the three multimask logits instead of the single mask. */
  multimask?: boolean;
  /** Adds the low-res mask prompt inputs (mask_input, has_mask_input). */
  maskInput?: boolean;
  /**
   * fp16: matmuls and convolutions in float16 (shared/graph/autocast.ts), and a loss_scale input
   * that multiplies the loss before differentiation (dynamic loss scaling). Default fp32.
   */
  precision?: 'fp32' | 'fp16';
  /** Training only: which encoder blocks the backward pass recomputes (memory.ts); none by default. */
  memory?: MemoryOptions;
}

interface Forward {
  embeddings: Tensor;
  masks: Tensor; // [B*K, M, 4g, 4g]
  iou: Tensor; // [B*K, M]
}

/** Prompt encoder + mask decoder for n prompts, each with its image embedding in perPrompt [n, C, g, g]. */
function decode(p: ParamBinder, o: SamGraphOptions, perPrompt: Tensor, lora: BoundLora | undefined, multimask: boolean): { masks: Tensor; iou: Tensor } {
  const cfg = o.config;
  const g = p.graph;
  const n = perPrompt.shape[0]!;
  const coords = g.input(IO.coords, [n, o.promptTokens, 2]);
  const labels = g.input(IO.labels, [n, o.promptTokens, LABEL_SLOTS]);
  const sparse = sparseEmbeddings(p, cfg, coords, labels);
  const low = lowResSize(cfg);
  const maskIn = o.maskInput ? g.input(IO.maskInput, [n, 1, low, low]) : undefined;
  const hasMask = o.maskInput ? g.input(IO.hasMask, [n]) : undefined;
  const dense = denseEmbeddings(p, cfg, n, maskIn, hasMask);
  const decoded = maskDecoder(p, cfg, perPrompt, densePositionEncoding(p, cfg), sparse, dense, lora?.decoderDelta);
  return selectMasks(decoded, multimask);
}

/** Each image's embedding [B, C, g, g] repeated for its K prompts (SAM's repeat_interleave), without re-encoding. */
function repeatPerPrompt(embeddings: Tensor, k: number): Tensor {
  if (k === 1) return embeddings;
  const [b, c, h, w] = embeddings.shape as [number, number, number, number];
  return op.reshape(op.expand(op.unsqueeze(embeddings, [1]), [b, k, c, h, w]), [b * k, c, h, w]);
}

function forward(p: ParamBinder, o: SamGraphOptions, lora: BoundLora | undefined, multimask: boolean): Forward {
  const cfg = o.config;
  const images = p.graph.input(IO.images, [o.batch, 3, cfg.img, cfg.img]);
  const embeddings = imageEncoder(p, cfg, images, lora?.delta, o.memory);
  const out = decode(p, o, repeatPerPrompt(embeddings, o.promptsPerImage ?? 1), lora, multimask);
  return { embeddings, ...out };
}

function decoderKeys(state: StateDict): Set<string> {
  return new Set([...state.keys()].filter((key) => key.startsWith('mask_decoder.')));
}

export interface BuiltGraph {
  graph: Graph;
  /** Trainable tensors (graph inputs) in gradient-output order. */
  trainable: { key: string; shape: readonly number[] }[];
}

/**
 * Outputs: loss (scalar, sum of w_i * loss_i), per_sample_loss [B*K], grad.<key> for every
 * trainable tensor, low_res_logits [B*K, 1, 4g, 4g] and iou_predictions [B*K, 1].
 */
export function buildTrainingGraph(o: SamGraphOptions): BuiltGraph {
  const cfg = o.config;
  const graph = new Graph('sam_train');
  if (o.precision === 'fp16') enableAutocast(graph);
  const p = new ParamBinder(graph, o.state, o.trainDecoder ? decoderKeys(o.state) : new Set());
  const lora = o.lora ? bindLora(graph, cfg, o.lora) : undefined;
  const fwd = forward(p, o, lora, false);
  const n = o.batch * (o.promptsPerImage ?? 1);
  const gt = graph.input(IO.gt, [n, cfg.img, cfg.img]);
  const valid = graph.input(IO.valid, [n, cfg.img, cfg.img]);
  const weights = graph.input(IO.weights, [n]);
  // The loss lives in the model frame: low-res logits upsampled to img x img, valid region only.
  const logits = op.reshape(op.resizeBilinear(fwd.masks, cfg.img, cfg.img), [n, cfg.img, cfg.img]);
  const perSample = diceCELoss(logits, gt, valid);
  const loss = op.reduceSum(op.mul(perSample, weights));
  const trainable = [...(lora?.inputs ?? []), ...p.trainableInputs];
  // fp16 gradients underflow unless the loss is scaled up first; the host divides them back.
  const differentiated = o.precision === 'fp16' ? op.mul(loss, graph.input(IO.lossScale, [])) : loss;
  const grads = grad(differentiated, trainable.map((t) => t.tensor));
  graph.output(loss, IO.loss);
  graph.output(perSample, IO.perSample);
  trainable.forEach((t, i) => graph.output(grads[i]!, `${IO.gradPrefix}${t.key}`));
  graph.output(fwd.masks, IO.lowRes);
  graph.output(fwd.iou, IO.iou);
  return { graph, trainable: trainable.map((t) => ({ key: t.key, shape: t.tensor.shape })) };
}

/** Weights fed at run time in an inference graph: LoRA, and the decoder when it is being trained. */
function runtimeInputs(p: ParamBinder, lora: BoundLora | undefined): BuiltGraph['trainable'] {
  return [...(lora?.inputs ?? []), ...p.trainableInputs].map((t) => ({ key: t.key, shape: t.tensor.shape }));
}

/** The whole model. Outputs image_embeddings, low_res_logits [B*K, M, 4g, 4g] and iou_predictions [B*K, M]. */
export function buildInferenceGraph(o: SamGraphOptions): BuiltGraph {
  const graph = new Graph('sam_infer');
  const p = new ParamBinder(graph, o.state, o.trainDecoder ? decoderKeys(o.state) : new Set());
  const lora = o.lora ? bindLora(graph, o.config, o.lora) : undefined;
  const fwd = forward(p, o, lora, o.multimask ?? false);
  graph.output(fwd.embeddings, IO.embeddings);
  graph.output(fwd.masks, IO.lowRes);
  graph.output(fwd.iou, IO.iou);
  return { graph, trainable: runtimeInputs(p, lora) };
}

/** The image encoder alone: images [B, 3, img, img] -> image_embeddings [B, C, g, g]. */
export function buildEncoderGraph(o: Pick<SamGraphOptions, 'config' | 'state' | 'lora' | 'batch'>): BuiltGraph {
  const graph = new Graph('sam_encoder');
  const p = new ParamBinder(graph, o.state);
  const lora = o.lora ? bindLora(graph, o.config, o.lora) : undefined;
  const images = graph.input(IO.images, [o.batch, 3, o.config.img, o.config.img]);
  graph.output(imageEncoder(p, o.config, images, lora?.delta), IO.embeddings);
  return { graph, trainable: runtimeInputs(p, lora) };
}

/**
 * Prompt encoder + mask decoder against one image's embedding: image_embeddings [1, C, g, g] and
 * `batch` prompts -> low_res_logits [batch, M, 4g, 4g], iou_predictions [batch, M].
 */
export function buildDecoderGraph(o: SamGraphOptions): BuiltGraph {
  const graph = new Graph('sam_decoder');
  const cfg = o.config;
  const gs = gridSize(cfg);
  const p = new ParamBinder(graph, o.state, o.trainDecoder ? decoderKeys(o.state) : new Set());
  const lora = o.lora ? bindLora(graph, cfg, o.lora) : undefined;
  const embeddings = graph.input(IO.embeddings, [1, cfg.pdim, gs, gs]);
  const perPrompt = o.batch === 1 ? embeddings : op.expand(embeddings, [o.batch, cfg.pdim, gs, gs]);
  const out = decode(p, o, perPrompt, lora, o.multimask ?? false);
  graph.output(out.masks, IO.lowRes);
  graph.output(out.iou, IO.iou);
  return { graph, trainable: runtimeInputs(p, lora) };
}
