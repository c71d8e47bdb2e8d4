// SAM's prompt encoder + mask decoder + mask postprocessing as one ONNX model with exactly the
// interface of the official export (segment-anything scripts/export_onnx_model.py, SamOnnxModel),
// so existing SAM front ends can load it:
//
//   image_embeddings [1, C, g, g]   point_coords [1, N, 2] (x, y in the longest-side-`img` frame)
//   point_labels [1, N] (1 pos, 0 neg, 2 / 3 box corners, -1 padding: its position is ignored)
//   mask_input [1, 1, 4g, 4g]       has_mask_input [1] (1: use mask_input, 0: the no-mask embedding)
//   orig_im_size [2] (H, W)
//   -> masks [1, 1, H, W] logits, iou_predictions [1, 1], low_res_masks [1, 1, 4g, 4g]
//
// N is dynamic (dynamic_dim.ts) and H, W come from orig_im_size at run time (inference-only ops).
// Single-mask output, the official script's --return-single-mask (its default returns all four mask
// tokens; the official notebook and web demo export with the flag): the mask token is chosen by
// argmax(iou + (N - 2.5) * [1000, 0, 0, 0]), i.e. SAM's single-mask token 0 when N >= 3 and the best
// multimask token when N <= 2 (one point plus its padding point, or a box alone).

import { generalizeDim } from '../graph/dynamic_dim.js';
import { Graph, type Tensor } from '../graph/graph.js';
import * as op from '../graph/ops/index.js';
import { argMax, floor, gatherAt, resizeLinear, shapeOf, sliceTo } from '../graph/ops/inference.js';
import { SAM_CONSTANTS, type SamConfig, gridSize, lowResSize } from './config.js';
import { maskDecoder } from './mask_decoder.js';
import { ParamBinder, type StateDict } from './params.js';
import { denseEmbeddings, densePositionEncoding, sparseEmbeddings } from './prompt_encoder.js';

export const ONNX_DECODER_INPUTS = ['image_embeddings', 'point_coords', 'point_labels', 'mask_input', 'has_mask_input', 'orig_im_size'] as const;
export const ONNX_DECODER_OUTPUTS = ['masks', 'iou_predictions', 'low_res_masks'] as const;

/** Symbolic dim names in the model file. */
export const ONNX_DECODER_DIMS = { points: 'num_points', height: 'orig_height', width: 'orig_width' } as const;

/** The labels SAM embeds, in the order of prompt_encoder.ts's one-hot slots. */
const LABELS = [-1, 0, 1, 2, 3];

/** Picks one of the four mask tokens from the point count (SamOnnxModel.select_masks). */
function selectByPointCount(masks: Tensor, iou: Tensor, labels: Tensor): { masks: Tensor; iou: Tensor } {
  const g = masks.graph;
  const tokens = SAM_CONSTANTS.multimaskOutputs + 1;
  const n = op.cast(op.gather(shapeOf(labels), [1], [], 0), 'float32');
  const reweight = g.constant([1000, ...Array<number>(tokens - 1).fill(0)], [1, tokens]);
  const best = argMax(op.add(iou, op.mul(op.sub(n, 2.5), reweight)), 1); // [1]
  return { masks: gatherAt(masks, best, 1), iou: gatherAt(iou, best, 1) };
}

/**
 * SamOnnxModel.mask_postprocessing: bilinear to img x img, crop to the resized image
 * floor(orig * img / max(orig) + 0.5), bilinear to orig_im_size (truncated to integers).
 */
function postprocess(lowRes: Tensor, origSize: Tensor, img: number): Tensor {
  const g = lowRes.graph;
  const [b, m] = lowRes.shape as [number, number];
  const full = resizeLinear(lowRes, g.constant([b, m, img, img], [4], 'int64'), [b, m, img, img]);
  const scale = op.div(img, op.reduceMax(origSize, [0]));
  const resized = op.cast(floor(op.add(op.mul(scale, origSize), 0.5)), 'int64');
  const cropped = sliceTo(full, resized, [2, 3]);
  const sizes = op.concat([g.constant([b, m], [2], 'int64'), op.cast(origSize, 'int64')], 0);
  // Placeholder H, W (the real ones exist at run time only): img x img.
  return resizeLinear(cropped, sizes, [b, m, img, img]);
}

function buildAt(cfg: SamConfig, state: StateDict, points: number): Graph {
  const graph = new Graph('sam_onnx_decoder');
  const p = new ParamBinder(graph, state);
  const gs = gridSize(cfg);
  const low = lowResSize(cfg);
  const [embName, coordsName, labelsName, maskName, hasMaskName, origName] = ONNX_DECODER_INPUTS;
  const embeddings = graph.input(embName, [1, cfg.pdim, gs, gs]);
  const coords = graph.input(coordsName, [1, points, 2]);
  const labels = graph.input(labelsName, [1, points]);
  const maskInput = graph.input(maskName, [1, 1, low, low]);
  const hasMask = graph.input(hasMaskName, [1]);
  const origSize = graph.input(origName, [2]);

  // Label -> one-hot slots by equality, as SamOnnxModel compares labels: any other value gets the
  // position encoding and no label embedding, exactly like there.
  const oneHot = op.cast(op.equal(op.unsqueeze(labels, [2]), graph.constant(LABELS, [LABELS.length])), 'float32');
  const sparse = sparseEmbeddings(p, cfg, coords, oneHot);
  const dense = denseEmbeddings(p, cfg, 1, maskInput, hasMask);
  const all = maskDecoder(p, cfg, embeddings, densePositionEncoding(p, cfg), sparse, dense);
  const chosen = selectByPointCount(all.masks, all.iou, labels);

  const [masksName, iouName, lowResName] = ONNX_DECODER_OUTPUTS;
  const masks = graph.output(postprocess(chosen.masks, origSize, cfg.img), masksName);
  graph.symbolicDims(masks, { 2: ONNX_DECODER_DIMS.height, 3: ONNX_DECODER_DIMS.width });
  graph.output(chosen.iou, iouName);
  graph.output(chosen.masks, lowResName);
  return graph;
}

/** The decoder model for a SAM variant and its (merged) weights; save it with serialize.ts's saveModel. */
export function buildOnnxDecoderGraph(cfg: SamConfig, state: StateDict): Graph {
  return generalizeDim((n) => buildAt(cfg, state, n), ONNX_DECODER_DIMS.points);
}
