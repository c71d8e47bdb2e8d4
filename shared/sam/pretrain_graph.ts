// The pretraining graph: every weight of the model trained, SAM's own training loss.
//
// One prompt per image. All four mask tokens are decoded; the mask loss (focal + dice, 20:1) is
// taken per prompt either on the single-mask token 0 or, for an ambiguous prompt (multimask = 1,
// e.g. one point), on the best of the three multimask tokens (the minimum of their losses, so only
// that token's gradient flows). The IoU head regresses, with an MSE, the IoU that each token's
// thresholded mask really has with the ground truth (a target without gradient). Everything the
// prompt layout needs (box corners, points, padding tokens, an optional low-res mask prompt for
// iterative refinement) is the same as in the fine-tuning graph (sam_graph.ts).
//
// Weights read on the host rather than bound in the graph (the decomposed relative-position tables)
// stay at their initial value. A known flaw, kept because the bundled model was trained with it: the
// prompt encoder's random Fourier matrix (a fixed buffer in SAM) is trained through the prompt
// tokens' encoding, while the image grid's encoding is computed from it on the host when a graph is
// built, i.e. from its value at the start of a run. Exclude it from the trained set when the model
// is next retrained.

import { grad } from '../graph/autodiff.js';
import { Graph, type Tensor } from '../graph/graph.js';
import * as op from '../graph/ops/index.js';
import { focalDiceLoss } from '../losses/focal_dice.js';
import { type SamConfig, lowResSize } from './config.js';
import { imageEncoder } from './image_encoder.js';
import { maskDecoder } from './mask_decoder.js';
import { ParamBinder, type StateDict } from './params.js';
import { LABEL_SLOTS, denseEmbeddings, densePositionEncoding, sparseEmbeddings } from './prompt_encoder.js';
import { IO } from './sam_graph.js';

/** Inputs and outputs beyond IO's. */
export const PRETRAIN_IO = {
  multimask: 'multimask', // [B] 1: loss on the best multimask token; 0: on the single-mask token
  maskLoss: 'mask_loss', // [B, 4] focal + dice of every token
  iouTarget: 'iou_target', // [B, 4] the real IoU of every token's mask
} as const;

export interface PretrainGraphOptions {
  config: SamConfig;
  state: StateDict;
  batch: number;
  promptTokens: number;
  /** Adds mask_input [B, 1, 4g, 4g] and has_mask_input [B] (refinement iterations). */
  maskInput?: boolean;
}

export interface PretrainGraph {
  graph: Graph;
  /** Trained tensors (graph inputs named by their checkpoint key), in gradient-output order. */
  trainable: { key: string; shape: readonly number[] }[];
}

/** IoU of (logits > 0) with the target over the last two axes; no gradient flows through it. */
function thresholdedIou(logits: Tensor, target: Tensor, valid: Tensor): Tensor {
  const axes = [logits.rank - 2, logits.rank - 1];
  const pred = op.where(op.greater(logits, 0), valid, 0);
  const inter = op.reduceSum(op.mul(pred, target), axes);
  const union = op.sub(op.add(op.reduceSum(pred, axes), op.reduceSum(target, axes)), inter);
  return op.div(inter, op.max(union, 1));
}

/**
 * Outputs: loss (sum of w_i * (mask loss_i + IoU MSE_i)), per_sample_loss [B], mask_loss [B, 4],
 * iou_target [B, 4], low_res_logits [B, 4, 4g, 4g], iou_predictions [B, 4], grad.<key> per weight.
 */
export function buildPretrainGraph(o: PretrainGraphOptions): PretrainGraph {
  const cfg = o.config;
  const n = o.batch;
  const graph = new Graph('sam_pretrain');
  const p = new ParamBinder(graph, o.state, new Set(o.state.keys()));
  const images = graph.input(IO.images, [n, 3, cfg.img, cfg.img]);
  const embeddings = imageEncoder(p, cfg, images);
  const coords = graph.input(IO.coords, [n, o.promptTokens, 2]);
  const labels = graph.input(IO.labels, [n, o.promptTokens, LABEL_SLOTS]);
  const low = lowResSize(cfg);
  const maskIn = o.maskInput ? graph.input(IO.maskInput, [n, 1, low, low]) : undefined;
  const hasMask = o.maskInput ? graph.input(IO.hasMask, [n]) : undefined;
  const sparse = sparseEmbeddings(p, cfg, coords, labels);
  const dense = denseEmbeddings(p, cfg, n, maskIn, hasMask);
  const decoded = maskDecoder(p, cfg, embeddings, densePositionEncoding(p, cfg), sparse, dense);

  const gt = op.reshape(graph.input(IO.gt, [n, cfg.img, cfg.img]), [n, 1, cfg.img, cfg.img]);
  const valid = op.reshape(graph.input(IO.valid, [n, cfg.img, cfg.img]), [n, 1, cfg.img, cfg.img]);
  const weights = graph.input(IO.weights, [n]);
  const multimask = graph.input(PRETRAIN_IO.multimask, [n]);
  const logits = op.resizeBilinear(decoded.masks, cfg.img, cfg.img); // [B, 4, img, img]
  const maskLoss = focalDiceLoss(logits, gt, valid); // [B, 4]
  const token = (i: number): Tensor => op.reshape(op.slice(maskLoss, [i], [i + 1], [1]), [n]);
  const best = op.min(op.min(token(1), token(2)), token(3));
  const chosen = op.add(op.mul(best, multimask), op.mul(token(0), op.sub(1, multimask)));
  const iouTarget = thresholdedIou(logits, gt, valid);
  const iouErr = op.sub(decoded.iou, iouTarget);
  const iouMse = op.reduceMean(op.mul(iouErr, iouErr), [1]);
  const perSample = op.add(chosen, iouMse);
  const loss = op.reduceSum(op.mul(perSample, weights));
  const trainable = p.trainableInputs;
  const grads = grad(loss, trainable.map((t) => t.tensor));
  graph.output(loss, IO.loss);
  graph.output(perSample, IO.perSample);
  graph.output(maskLoss, PRETRAIN_IO.maskLoss);
  graph.output(iouTarget, PRETRAIN_IO.iouTarget);
  graph.output(decoded.masks, IO.lowRes);
  graph.output(decoded.iou, IO.iou);
  trainable.forEach((t, i) => graph.output(grads[i]!, `${IO.gradPrefix}${t.key}`));
  return { graph, trainable: trainable.map((t) => ({ key: t.key, shape: t.tensor.shape })) };
}
