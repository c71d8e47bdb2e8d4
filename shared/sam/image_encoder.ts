// ImageEncoderViT: patch embedding, absolute position embedding, transformer blocks with
// windowed or global attention and decomposed relative positions, and the neck.

import { type Tensor } from '../graph/graph.js';
import * as op from '../graph/ops/index.js';
import { SAM_CONSTANTS, type SamConfig } from './config.js';
import { layerNorm, layerNorm2d, linear } from './layers.js';
import type { LoraDelta } from './lora.js';
import type { ParamBinder } from './params.js';
import { relPosMatrix } from './rel_pos.js';

const EPS = SAM_CONSTANTS.eps;

/** images: [B, 3, img, img], normalised and zero-padded. Returns embeddings [B, pdim, img/16, img/16]. */
export function imageEncoder(p: ParamBinder, cfg: SamConfig, images: Tensor, lora?: LoraDelta): Tensor {
  const pre = 'image_encoder';
  const patch = SAM_CONSTANTS.patch;
  let x = op.conv(images, p.get(`${pre}.patch_embed.proj.weight`), p.get(`${pre}.patch_embed.proj.bias`), {
    strides: [patch, patch],
  });
  x = op.transpose(x, [0, 2, 3, 1]); // [B, g, g, dim]
  x = op.add(x, p.get(`${pre}.pos_embed`));
  for (let i = 0; i < cfg.depth; i++) {
    x = block(p, cfg, i, x, lora);
  }
  // Neck: 1x1 conv, LayerNorm2d, 3x3 conv, LayerNorm2d.
  let y = op.transpose(x, [0, 3, 1, 2]);
  y = op.conv(y, p.get(`${pre}.neck.0.weight`), null);
  y = layerNorm2d(p, `${pre}.neck.1`, y, EPS);
  y = op.conv(y, p.get(`${pre}.neck.2.weight`), null, { pads: [1, 1, 1, 1] });
  return layerNorm2d(p, `${pre}.neck.3`, y, EPS);
}

function block(p: ParamBinder, cfg: SamConfig, i: number, x: Tensor, lora?: LoraDelta): Tensor {
  const pre = `image_encoder.blocks.${i}`;
  const shortcut = x;
  let h = layerNorm(p, `${pre}.norm1`, x, EPS);
  const windowed = !cfg.glob.includes(i);
  const [b, gh, gw] = h.shape as [number, number, number, number];
  if (windowed) h = windowPartition(h, cfg.window);
  h = attention(p, cfg, i, h, lora);
  if (windowed) h = windowUnpartition(h, cfg.window, b, gh, gw);
  x = op.add(shortcut, h);
  const n2 = layerNorm(p, `${pre}.norm2`, x, EPS);
  const lin1 = withLora(linear(p, `${pre}.mlp.lin1`, n2), lora?.(i, 'lin1', n2));
  const act = op.gelu(lin1);
  const lin2 = withLora(linear(p, `${pre}.mlp.lin2`, act), lora?.(i, 'lin2', act));
  return op.add(x, lin2);
}

function withLora(y: Tensor, delta: Tensor | undefined): Tensor {
  return delta ? op.add(y, delta) : y;
}

/** [B, H, W, C] -> [B * windows, ws, ws, C], zero-padding H and W up to multiples of ws. */
function windowPartition(x: Tensor, ws: number): Tensor {
  const [b, h, w, c] = x.shape as [number, number, number, number];
  const ph = (ws - (h % ws)) % ws;
  const pw = (ws - (w % ws)) % ws;
  const padded = op.pad(x, [0, 0, 0, 0, 0, ph, pw, 0]);
  const hp = h + ph;
  const wp = w + pw;
  const r = op.reshape(padded, [b, hp / ws, ws, wp / ws, ws, c]);
  return op.reshape(op.transpose(r, [0, 1, 3, 2, 4, 5]), [-1, ws, ws, c]);
}

/** Inverse of windowPartition, cropping the padding. */
function windowUnpartition(x: Tensor, ws: number, b: number, h: number, w: number): Tensor {
  const hp = Math.ceil(h / ws) * ws;
  const wp = Math.ceil(w / ws) * ws;
  const c = x.shape[3]!;
  const r = op.reshape(x, [b, hp / ws, wp / ws, ws, ws, c]);
  const full = op.reshape(op.transpose(r, [0, 1, 3, 2, 4, 5]), [b, hp, wp, c]);
  return hp > h || wp > w ? op.slice(full, [0, 0], [h, w], [1, 2]) : full;
}

/** Multi-head attention with decomposed relative positions on [B, H, W, C] tokens. */
function attention(p: ParamBinder, cfg: SamConfig, i: number, x: Tensor, lora?: LoraDelta): Tensor {
  const pre = `image_encoder.blocks.${i}.attn`;
  const [b, h, w, c] = x.shape as [number, number, number, number];
  const heads = cfg.heads;
  const hd = c / heads;
  const tokens = op.reshape(x, [b, h * w, c]);
  const qkv = linear(p, `${pre}.qkv`, tokens);
  let [q, k, v] = op.split(qkv, [c, c, c], 2) as [Tensor, Tensor, Tensor];
  q = withLora(q, lora?.(i, 'q', tokens));
  k = withLora(k, lora?.(i, 'k', tokens));
  v = withLora(v, lora?.(i, 'v', tokens));
  const heads4 = (t: Tensor): Tensor => op.transpose(op.reshape(t, [b, h * w, heads, hd]), [0, 2, 1, 3]); // [B, heads, N, hd]
  const qh = heads4(q);
  const kh = heads4(k);
  const vh = heads4(v);
  const rel = relPosTables(p, pre, h, w);
  // Large attention maps (global blocks at full resolution) are computed a few heads at a time:
  // the same arithmetic, but the backward pass's [heads, N, N] temporaries exist for one group only.
  const groups = headGroups(b, heads, h * w);
  const outs = groups.map(([from, to]) => {
    const part = (t: Tensor): Tensor => (groups.length === 1 ? t : op.slice(t, [from], [to], [1]));
    const qg = part(qh);
    let attn = op.matmul(op.mul(qg, hd ** -0.5), op.transpose(part(kh), [0, 1, 3, 2])); // [B, g, N, N]
    attn = addRelPos(attn, qg, rel, b, to - from, h, w, hd);
    return op.matmul(op.softmax(attn, -1), part(vh)); // [B, g, N, hd]
  });
  const out = op.concat(outs, 1);
  const merged = op.reshape(op.transpose(out, [0, 2, 1, 3]), [b, h * w, c]);
  const proj = withLora(linear(p, `${pre}.proj`, merged), lora?.(i, 'proj', merged));
  return op.reshape(proj, [b, h, w, c]);
}

/** Bytes of attention map above which heads are processed in groups. */
const ATTENTION_GROUP_BYTES = 64 * 2 ** 20;

/** [from, to) head ranges whose [B, group, N, N] float32 maps stay within ATTENTION_GROUP_BYTES. */
function headGroups(b: number, heads: number, n: number): [number, number][] {
  const perHead = b * n * n * 4;
  const size = Math.max(1, Math.min(heads, Math.floor(ATTENTION_GROUP_BYTES / perHead)));
  const groups: [number, number][] = [];
  for (let from = 0; from < heads; from += size) groups.push([from, Math.min(heads, from + size)]);
  return groups;
}

interface RelTables {
  /** [h, hd, h] and [w, hd, w]: get_rel_pos laid out for MatMul (rel_pos.ts). */
  h: Tensor;
  w: Tensor;
}

function relPosTables(p: ParamBinder, pre: string, h: number, w: number): RelTables {
  const g = p.graph;
  const rh = relPosMatrix(p.state.get(`${pre}.rel_pos_h`) ?? missing(`${pre}.rel_pos_h`), h);
  const rw = relPosMatrix(p.state.get(`${pre}.rel_pos_w`) ?? missing(`${pre}.rel_pos_w`), w);
  return { h: g.initializer(g.uniqueName(`${pre}.rel_h_table`), rh.shape, rh.data), w: g.initializer(g.uniqueName(`${pre}.rel_w_table`), rw.shape, rw.data) };
}

/** attn += rel_h[..., :, None] + rel_w[..., None, :] with rel_h = einsum("bhwc,hkc->bhwk", q, Rh). */
function addRelPos(attn: Tensor, q: Tensor, rel: RelTables, b: number, heads: number, h: number, w: number, hd: number): Tensor {
  const q5 = op.reshape(q, [b, heads, h, w, hd]);
  const relH = op.matmul(q5, rel.h); // [B, heads, h, w, kh]  (batch axis h pairs with the table's q axis)
  const qT = op.transpose(q5, [0, 1, 3, 2, 4]); // [B, heads, w, h, hd]
  const relW = op.transpose(op.matmul(qT, rel.w), [0, 1, 3, 2, 4]); // [B, heads, h, w, kw]
  const a6 = op.reshape(attn, [b, heads, h, w, h, w]);
  const sum = op.add(op.add(a6, op.unsqueeze(relH, [5])), op.unsqueeze(relW, [4]));
  return op.reshape(sum, [b, heads, h * w, h * w]);
}

function missing(key: string): never {
  throw new Error(`weights: missing tensor "${key}"`);
}
