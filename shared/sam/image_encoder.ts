// ImageEncoderViT: patch embedding, absolute position embedding, transformer blocks with
// windowed or global attention and decomposed relative positions, and the neck.

import type { Graph, Tensor } from '../graph/graph.js';
import * as op from '../graph/ops/index.js';
import { recomputed } from '../graph/recompute.js';
import type { HostTensor } from '../tensor/host_tensor.js';
import { SAM_CONSTANTS, type SamConfig } from './config.js';
import { layerNorm, layerNorm2d, linear } from './layers.js';
import type { LoraDelta } from './lora.js';
import { type MemoryOptions, NO_RECOMPUTE, recomputesBlock } from './memory.js';
import type { ParamBinder } from './params.js';
import { relPosMatrix } from './rel_pos.js';

const EPS = SAM_CONSTANTS.eps;

/** images: [B, 3, img, img], normalised and zero-padded. Returns embeddings [B, pdim, img/16, img/16]. */
export function imageEncoder(p: ParamBinder, cfg: SamConfig, images: Tensor, lora?: LoraDelta, memory: MemoryOptions = NO_RECOMPUTE): Tensor {
  const pre = 'image_encoder';
  const patch = SAM_CONSTANTS.patch;
  let x = op.conv(images, p.get(`${pre}.patch_embed.proj.weight`), p.get(`${pre}.patch_embed.proj.bias`), {
    strides: [patch, patch],
  });
  x = op.transpose(x, [0, 2, 3, 1]); // [B, g, g, dim]
  x = op.add(x, p.get(`${pre}.pos_embed`));
  for (let i = 0; i < cfg.depth; i++) {
    x = block(p, cfg, i, x, lora, memory);
  }
  // Neck: 1x1 conv, LayerNorm2d, 3x3 conv, LayerNorm2d.
  let y = op.transpose(x, [0, 3, 1, 2]);
  y = op.conv(y, p.get(`${pre}.neck.0.weight`), null);
  y = layerNorm2d(p, `${pre}.neck.1`, y, EPS);
  y = op.conv(y, p.get(`${pre}.neck.2.weight`), null, { pads: [1, 1, 1, 1] });
  return layerNorm2d(p, `${pre}.neck.3`, y, EPS);
}

function block(p: ParamBinder, cfg: SamConfig, i: number, x: Tensor, lora: LoraDelta | undefined, memory: MemoryOptions): Tensor {
  const pre = `image_encoder.blocks.${i}`;
  const global = cfg.glob.includes(i);
  const [, gh, gw] = x.shape as [number, number, number, number];
  const rel = relPosTables(p, `${pre}.attn`, global ? gh : cfg.window, global ? gw : cfg.window);
  const attnBranch = (v: Tensor, chunkBytes?: number): Tensor => {
    let h = layerNorm(p, `${pre}.norm1`, v, EPS);
    const [b, hh, ww] = h.shape as [number, number, number, number];
    if (!global) h = windowPartition(h, cfg.window);
    h = attention(p, cfg, i, h, rel, lora, chunkBytes);
    if (!global) h = windowUnpartition(h, cfg.window, b, hh, ww);
    return op.add(v, h);
  };
  const mlpBranch = (v: Tensor): Tensor => {
    const n2 = layerNorm(p, `${pre}.norm2`, v, EPS);
    const lin1 = withLora(linear(p, `${pre}.mlp.lin1`, n2), lora?.(i, 'lin1', n2));
    const act = op.gelu(lin1);
    const lin2 = withLora(linear(p, `${pre}.mlp.lin2`, act), lora?.(i, 'lin2', act));
    return op.add(v, lin2);
  };
  if (!recomputesBlock(memory.mode, global)) return mlpBranch(attnBranch(x));
  // Two recomputed halves: the backward of the MLP half needs the attention half's output, saved
  // here, rather than a second pass through the attention. In a global block the attention is
  // chunked and each chunk recomputed again on its own, so the half's copy of the attention is
  // never needed (serialisation drops it) and its backward holds one chunk's map at a time.
  const chunkBytes = global ? memory.attentionChunkBytes : undefined;
  const mid = recomputed(`block${i}.attn`, [x], ([v]) => attnBranch(v!, chunkBytes));
  return recomputed(`block${i}.mlp`, [mid], ([v]) => mlpBranch(v!));
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

/**
 * Multi-head attention with decomposed relative positions on [B, H, W, C] tokens. With chunkBytes,
 * queries are processed in chunks (heads x rows of the grid) of at most that much attention map,
 * each recomputed in the backward pass (memory.ts).
 */
function attention(p: ParamBinder, cfg: SamConfig, i: number, x: Tensor, rel: RelTables, lora: LoraDelta | undefined, chunkBytes?: number): Tensor {
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
  const out = chunkBytes === undefined ? groupedAttention(qh, kh, vh, rel, b, h, w) : chunkedAttention(qh, kh, vh, rel, b, h, w, chunkBytes, `block${i}`);
  const merged = op.reshape(op.transpose(out, [0, 2, 1, 3]), [b, h * w, c]);
  const proj = withLora(linear(p, `${pre}.proj`, merged), lora?.(i, 'proj', merged));
  return op.reshape(proj, [b, h, w, c]);
}

/**
 * softmax(q k^T / sqrt(hd) + rel) v for queries q [B, g, rows * w, hd] (grid rows r0 .. r0 + rows)
 * against keys and values [B, g, h * w, hd]. Returns [B, g, rows * w, hd].
 */
function attend(q: Tensor, k: Tensor, v: Tensor, relH: Tensor, relW: Tensor, h: number, w: number): Tensor {
  const [b, g, n, hd] = q.shape as [number, number, number, number];
  const rows = n / w;
  let attn = op.matmul(op.mul(q, hd ** -0.5), op.transpose(k, [0, 1, 3, 2])); // [B, g, rows*w, N]
  attn = addRelPos(attn, q, relH, relW, b, g, rows, h, w, hd);
  return op.matmul(op.softmax(attn, -1), v);
}

/** Large attention maps (global blocks at full resolution) are computed a few heads at a time. */
function groupedAttention(qh: Tensor, kh: Tensor, vh: Tensor, rel: RelTables, b: number, h: number, w: number): Tensor {
  const heads = qh.shape[1]!;
  const relH = tableRows(qh.graph, rel, 0, h);
  const relW = fullTable(qh.graph, rel);
  // The same arithmetic, but the backward pass's [heads, N, N] temporaries exist for one group only.
  const groups = headGroups(b, heads, h * w);
  const outs = groups.map(([from, to]) => {
    const part = (t: Tensor): Tensor => (groups.length === 1 ? t : op.slice(t, [from], [to], [1]));
    return attend(part(qh), part(kh), part(vh), relH, relW, h, w); // [B, g, N, hd]
  });
  return op.concat(outs, 1);
}

/** Query chunks of at most chunkBytes of map, each recomputed in the backward pass. */
function chunkedAttention(qh: Tensor, kh: Tensor, vh: Tensor, rel: RelTables, b: number, h: number, w: number, chunkBytes: number, name: string): Tensor {
  const heads = qh.shape[1]!;
  const { groups, rowsPerChunk } = attentionChunks(b, heads, h, w, chunkBytes);
  const relW = fullTable(qh.graph, rel);
  const byHead = groups.map(([from, to]) => {
    const part = (t: Tensor): Tensor => (groups.length === 1 ? t : op.slice(t, [from], [to], [1]));
    const kg = part(kh);
    const vg = part(vh);
    const qg = part(qh);
    const byRow: Tensor[] = [];
    for (let r0 = 0; r0 < h; r0 += rowsPerChunk) {
      const r1 = Math.min(h, r0 + rowsPerChunk);
      const qc = r1 - r0 === h ? qg : op.slice(qg, [r0 * w], [r1 * w], [2]);
      const relH = tableRows(qh.graph, rel, r0, r1);
      byRow.push(recomputed(`${name}.attn_chunk`, [qc, kg, vg], ([qx, kx, vx]) => attend(qx!, kx!, vx!, relH, relW, h, w)));
    }
    return byRow.length === 1 ? byRow[0]! : op.concat(byRow, 2);
  });
  return byHead.length === 1 ? byHead[0]! : op.concat(byHead, 1);
}

/** Bytes of attention map above which heads are processed in groups. */
const ATTENTION_GROUP_BYTES = 64 * 2 ** 20;

/** [from, to) head ranges whose [B, group, N, N] float32 maps stay within ATTENTION_GROUP_BYTES. */
function headGroups(b: number, heads: number, n: number, limit = ATTENTION_GROUP_BYTES): [number, number][] {
  const perHead = b * n * n * 4;
  const size = Math.max(1, Math.min(heads, Math.floor(limit / perHead)));
  const groups: [number, number][] = [];
  for (let from = 0; from < heads; from += size) groups.push([from, Math.min(heads, from + size)]);
  return groups;
}

/** Head groups, and grid rows per chunk when one head's map alone exceeds the limit. */
function attentionChunks(b: number, heads: number, h: number, w: number, limit: number): { groups: [number, number][]; rowsPerChunk: number } {
  const n = h * w;
  const groups = headGroups(b, heads, n, limit);
  const perRow = b * w * n * 4;
  const rowsPerChunk = Math.max(1, Math.min(h, Math.floor(limit / perRow)));
  return { groups, rowsPerChunk };
}

interface RelTables {
  /** [h, hd, h] and [w, hd, w]: get_rel_pos laid out for MatMul (rel_pos.ts), on the host. */
  h: HostTensor;
  w: HostTensor;
  prefix: string;
  /** Initializers made from them, by row range, so that a recomputed copy reuses them. */
  made: Map<string, Tensor>;
}

function relPosTables(p: ParamBinder, pre: string, h: number, w: number): RelTables {
  const rh = relPosMatrix(p.state.get(`${pre}.rel_pos_h`) ?? missing(`${pre}.rel_pos_h`), h);
  const rw = relPosMatrix(p.state.get(`${pre}.rel_pos_w`) ?? missing(`${pre}.rel_pos_w`), w);
  return { h: rh, w: rw, prefix: pre, made: new Map() };
}

/** Rows [r0, r1) of the height table as an initializer [r1 - r0, hd, h]. */
function tableRows(g: Graph, rel: RelTables, r0: number, r1: number): Tensor {
  const key = `h${r0}:${r1}`;
  let t = rel.made.get(key);
  if (!t) {
    const [size, hd, kh] = rel.h.shape as [number, number, number];
    const data = r0 === 0 && r1 === size ? rel.h.data : rel.h.data.subarray(r0 * hd * kh, r1 * hd * kh);
    t = g.initializer(g.uniqueName(`${rel.prefix}.rel_h_table`), [r1 - r0, hd, kh], data);
    rel.made.set(key, t);
  }
  return t;
}

function fullTable(g: Graph, rel: RelTables): Tensor {
  let t = rel.made.get('w');
  if (!t) {
    t = g.initializer(g.uniqueName(`${rel.prefix}.rel_w_table`), rel.w.shape, rel.w.data);
    rel.made.set('w', t);
  }
  return t;
}

/** attn += rel_h[..., :, None] + rel_w[..., None, :] with rel_h = einsum("bhwc,hkc->bhwk", q, Rh), for `rows` query rows. */
function addRelPos(attn: Tensor, q: Tensor, relH: Tensor, relW: Tensor, b: number, heads: number, rows: number, h: number, w: number, hd: number): Tensor {
  const q5 = op.reshape(q, [b, heads, rows, w, hd]);
  const rh = op.matmul(q5, relH); // [B, heads, rows, w, kh]  (batch axis rows pairs with the table's q axis)
  const qT = op.transpose(q5, [0, 1, 3, 2, 4]); // [B, heads, w, rows, hd]
  const rw = op.transpose(op.matmul(qT, relW), [0, 1, 3, 2, 4]); // [B, heads, rows, w, kw]
  const a6 = op.reshape(attn, [b, heads, rows, w, h, w]);
  const sum = op.add(op.add(a6, op.unsqueeze(rh, [5])), op.unsqueeze(rw, [4]));
  return op.reshape(sum, [b, heads, rows * w, h * w]);
}

function missing(key: string): never {
  throw new Error(`weights: missing tensor "${key}"`);
}
