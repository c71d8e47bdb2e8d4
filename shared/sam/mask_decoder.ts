// MaskDecoder: output tokens + prompt tokens through the two-way transformer, upscaled image
// features, hypernetwork MLPs producing per-mask weights, and the IoU head.

import type { Tensor } from '../graph/graph.js';
import * as op from '../graph/ops/index.js';
import { SAM_CONSTANTS, type SamConfig } from './config.js';
import { layerNorm2d, mlp } from './layers.js';
import type { DecoderLoraDelta } from './lora.js';
import type { ParamBinder } from './params.js';
import { twoWayTransformer } from './two_way_transformer.js';

export interface DecoderOutput {
  /** [B, 4, 4g, 4g] logits of all mask tokens (token 0 = single-mask output, 1..3 = multimask). */
  masks: Tensor;
  /** [B, 4] predicted IoU of each mask token. */
  iou: Tensor;
}

/**
 * imageEmbeddings [B, C, g, g] (one per prompt: callers expand an image's embedding to its
 * prompts), imagePe [1, C, g, g], sparse [B, P, C], dense [B, C, g, g].
 */
export function maskDecoder(p: ParamBinder, cfg: SamConfig, imageEmbeddings: Tensor, imagePe: Tensor, sparse: Tensor, dense: Tensor, lora?: DecoderLoraDelta): DecoderOutput {
  const pre = 'mask_decoder';
  const numMaskTokens = SAM_CONSTANTS.multimaskOutputs + 1;
  const [b, c, g] = imageEmbeddings.shape as [number, number, number, number];
  const outputTokens = op.concat([p.get(`${pre}.iou_token.weight`), p.get(`${pre}.mask_tokens.weight`)], 0); // [5, C]
  const tokens = op.concat([op.expand(op.unsqueeze(outputTokens, [0]), [b, 1 + numMaskTokens, c]), sparse], 1);
  const src = op.add(imageEmbeddings, dense);
  const [hs, keys] = twoWayTransformer(p, cfg, src, imagePe, tokens, lora);
  const iouTokenOut = op.reshape(op.slice(hs, [0], [1], [1]), [b, c]);

  // Upscale image features 4x: ConvT, LayerNorm2d, GELU, ConvT, GELU.
  let up = op.reshape(op.transpose(keys, [0, 2, 1]), [b, c, g, g]);
  up = op.convTranspose(up, p.get(`${pre}.output_upscaling.0.weight`), p.get(`${pre}.output_upscaling.0.bias`), { strides: [2, 2] });
  up = op.gelu(layerNorm2d(p, `${pre}.output_upscaling.1`, up, SAM_CONSTANTS.eps));
  up = op.convTranspose(up, p.get(`${pre}.output_upscaling.3.weight`), p.get(`${pre}.output_upscaling.3.bias`), { strides: [2, 2] });
  up = op.gelu(up); // [B, C/8, 4g, 4g]

  const hyper = [];
  for (let i = 0; i < numMaskTokens; i++) {
    const token = op.reshape(op.slice(hs, [1 + i], [2 + i], [1]), [b, c]);
    hyper.push(op.unsqueeze(mlp(p, `${pre}.output_hypernetworks_mlps.${i}`, token, 3), [1]));
  }
  const hyperIn = op.concat(hyper, 1); // [B, 4, C/8]
  const [, c8, hu, wu] = up.shape as [number, number, number, number];
  const masks = op.reshape(op.matmul(hyperIn, op.reshape(up, [b, c8, hu * wu])), [b, numMaskTokens, hu, wu]);
  const iou = mlp(p, `${pre}.iou_prediction_head`, iouTokenOut, 3);
  return { masks, iou };
}

/** Selects the single-mask output (token 0) or the three multimask outputs (tokens 1..3). */
export function selectMasks(out: DecoderOutput, multimask: boolean): DecoderOutput {
  const [from, to] = multimask ? [1, 1 + SAM_CONSTANTS.multimaskOutputs] : [0, 1];
  return { masks: op.slice(out.masks, [from], [to], [1]), iou: op.slice(out.iou, [from], [to], [1]) };
}
