// TwoWayTransformer: prompt tokens and image tokens attend to each other (SAM's mask decoder core).

import type { Tensor } from '../graph/graph.js';
import * as op from '../graph/ops/index.js';
import { SAM_CONSTANTS, type SamConfig } from './config.js';
import { layerNorm, linear, mlpBlock } from './layers.js';
import type { DecoderLoraDelta } from './lora.js';
import type { ParamBinder } from './params.js';

const EPS = 1e-5; // nn.LayerNorm default: the decoder's norms are not SAM's 1e-6 ones

/** Attention with projections to an internal width (embedding / downsample) and heads. */
function attention(p: ParamBinder, prefix: string, heads: number, q: Tensor, k: Tensor, v: Tensor, lora?: DecoderLoraDelta): Tensor {
  const proj = (name: string, x: Tensor): Tensor => {
    const y = linear(p, `${prefix}.${name}`, x);
    const d = lora?.(`${prefix}.${name}`, x);
    return d ? op.add(y, d) : y;
  };
  const qp = proj('q_proj', q);
  const kp = proj('k_proj', k);
  const vp = proj('v_proj', v);
  const [b, nq, inner] = qp.shape as [number, number, number];
  const nk = kp.shape[1]!;
  const hd = inner / heads;
  const sep = (t: Tensor, n: number): Tensor => op.transpose(op.reshape(t, [b, n, heads, hd]), [0, 2, 1, 3]);
  const qh = sep(qp, nq);
  const kh = sep(kp, nk);
  const vh = sep(vp, nk);
  let attn = op.matmul(qh, op.transpose(kh, [0, 1, 3, 2]));
  attn = op.softmax(op.div(attn, Math.sqrt(hd)), -1);
  const out = op.reshape(op.transpose(op.matmul(attn, vh), [0, 2, 1, 3]), [b, nq, inner]);
  return proj('out_proj', out);
}

function twoWayBlock(p: ParamBinder, prefix: string, heads: number, queries: Tensor, keys: Tensor, queryPe: Tensor, keyPe: Tensor, skipFirstPe: boolean, lora?: DecoderLoraDelta): [Tensor, Tensor] {
  if (skipFirstPe) {
    queries = attention(p, `${prefix}.self_attn`, heads, queries, queries, queries, lora);
  } else {
    const q = op.add(queries, queryPe);
    queries = op.add(queries, attention(p, `${prefix}.self_attn`, heads, q, q, queries, lora));
  }
  queries = layerNorm(p, `${prefix}.norm1`, queries, EPS);

  let q = op.add(queries, queryPe);
  let k = op.add(keys, keyPe);
  queries = op.add(queries, attention(p, `${prefix}.cross_attn_token_to_image`, heads, q, k, keys, lora));
  queries = layerNorm(p, `${prefix}.norm2`, queries, EPS);

  queries = op.add(queries, mlpBlock(p, `${prefix}.mlp`, queries, op.relu));
  queries = layerNorm(p, `${prefix}.norm3`, queries, EPS);

  q = op.add(queries, queryPe);
  k = op.add(keys, keyPe);
  keys = op.add(keys, attention(p, `${prefix}.cross_attn_image_to_token`, heads, k, q, queries, lora));
  keys = layerNorm(p, `${prefix}.norm4`, keys, EPS);
  return [queries, keys];
}

/**
 * image [B, C, h, w], imagePe [1 or B, C, h, w], tokens [B, T, C] -> (queries [B, T, C], keys [B, h*w, C]).
 */
export function twoWayTransformer(p: ParamBinder, cfg: SamConfig, image: Tensor, imagePe: Tensor, tokens: Tensor, lora?: DecoderLoraDelta): [Tensor, Tensor] {
  const pre = 'mask_decoder.transformer';
  const [, c, h, w] = image.shape as [number, number, number, number];
  const flat = (t: Tensor): Tensor => op.transpose(op.reshape(t, [t.shape[0]!, c, h * w]), [0, 2, 1]);
  let keys = flat(image);
  const keyPe = flat(imagePe);
  let queries = tokens;
  for (let i = 0; i < SAM_CONSTANTS.decoderDepth; i++) {
    [queries, keys] = twoWayBlock(p, `${pre}.layers.${i}`, cfg.dheads, queries, keys, tokens, keyPe, i === 0, lora);
  }
  const q = op.add(queries, tokens);
  const k = op.add(keys, keyPe);
  queries = op.add(queries, attention(p, `${pre}.final_attn_token_to_image`, cfg.dheads, q, k, keys, lora));
  queries = layerNorm(p, `${pre}.norm_final_attn`, queries, EPS);
  return [queries, keys];
}
