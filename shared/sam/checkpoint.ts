// Loads a SAM checkpoint (.pth as torch.save writes it, or safetensors), infers the variant from the
// tensor shapes, and checks every key against the model: one error lists what is missing,
// unexpected or mis-shaped, naming the file.

import { open } from 'node:fs/promises';
import { fmt, sameShape } from '../graph/shape.js';
import { refuseNonFinite } from '../tensor/finite.js';
import { readSafetensors } from '../tensor/safetensors.js';
import type { HostTensor } from '../tensor/host_tensor.js';
import { readPth } from '../tensor/pth_reader.js';
import { SAM_CONSTANTS, type SamConfig, gridSize, validateConfig } from './config.js';

export type StateDictMap = Map<string, HostTensor>;

export interface LoadedCheckpoint {
  path: string;
  config: SamConfig;
  state: StateDictMap;
}

/**
 * Reads a .pth (zip, or the legacy pickle format, refused by name) or .safetensors file by its
 * content; a .pth/.pt name that is neither gets the .pth reader's error. Non-finite weights are
 * refused naming the tensor.
 */
export async function readStateDict(path: string): Promise<StateDictMap> {
  const fh = await open(path, 'r').catch((e: NodeJS.ErrnoException) => {
    throw new Error(`checkpoint ${path}: cannot open (${e.code ?? e.message})`);
  });
  const head = Buffer.alloc(4);
  let bytesRead: number;
  try {
    ({ bytesRead } = await fh.read(head, 0, 4, 0));
  } finally {
    await fh.close();
  }
  if (bytesRead === 0) throw new Error(`checkpoint ${path}: the file is empty (0 bytes), not a SAM checkpoint`);
  const zip = head[0] === 0x50 && head[1] === 0x4b;
  const legacyPickle = head[0] === 0x80;
  const state = zip || legacyPickle || /\.(pth|pt)$/i.test(path) ? await readPth(path) : (await readSafetensors(path)).tensors;
  refuseNonFinite(state, `checkpoint ${path}`);
  return state;
}

/**
 * Infers the variant from shapes: width and depth from the blocks, head size from the rel-pos
 * tables, global blocks and window from rel-pos lengths, input size from pos_embed, decoder widths
 * from the decoder. Decoder heads cannot be seen in shapes: SAM's 8 unless given.
 */
export function inferConfig(state: ReadonlyMap<string, HostTensor>, path: string, overrides: Partial<SamConfig> = {}): SamConfig {
  const need = (key: string): HostTensor => {
    const t = state.get(key);
    if (!t) throw new Error(`checkpoint ${path}: not a SAM checkpoint, missing "${key}"`);
    return t;
  };
  const dim = need('image_encoder.patch_embed.proj.weight').shape[0]!;
  const grid = need('image_encoder.pos_embed').shape[1]!;
  let depth = 0;
  while (state.has(`image_encoder.blocks.${depth}.attn.qkv.weight`)) depth++;
  const relLens = [...Array(depth).keys()].map((i) => need(`image_encoder.blocks.${i}.attn.rel_pos_h`).shape[0]!);
  const headDim = need('image_encoder.blocks.0.attn.rel_pos_h').shape[1]!;
  const glob = relLens.flatMap((len, i) => (len === 2 * grid - 1 ? [i] : []));
  const windowLen = relLens.find((len) => len !== 2 * grid - 1);
  const cfg: SamConfig = {
    dim,
    depth,
    heads: dim / headDim,
    glob,
    img: grid * SAM_CONSTANTS.patch,
    // With every block global the window is irrelevant; SAM's 14 keeps the config valid.
    window: windowLen !== undefined ? (windowLen + 1) / 2 : 14,
    pdim: need('image_encoder.neck.0.weight').shape[0]!,
    dmlp: need('mask_decoder.transformer.layers.0.mlp.lin1.weight').shape[0]!,
    dheads: 8,
    iouh: need('mask_decoder.iou_prediction_head.layers.0.weight').shape[0]!,
    ...overrides,
  };
  validateConfig(cfg, `checkpoint ${path}`);
  return cfg;
}

/** Every state_dict key of a SAM model with its shape. */
export function expectedShapes(c: SamConfig): Map<string, number[]> {
  const m = new Map<string, number[]>();
  const g = gridSize(c);
  const hd = c.dim / c.heads;
  const pd = c.pdim;
  const lin = (pre: string, out: number, inp: number): void => {
    m.set(`${pre}.weight`, [out, inp]);
    m.set(`${pre}.bias`, [out]);
  };
  const norm = (pre: string, n: number): void => {
    m.set(`${pre}.weight`, [n]);
    m.set(`${pre}.bias`, [n]);
  };
  const e = 'image_encoder';
  m.set(`${e}.patch_embed.proj.weight`, [c.dim, 3, 16, 16]);
  m.set(`${e}.patch_embed.proj.bias`, [c.dim]);
  m.set(`${e}.pos_embed`, [1, g, g, c.dim]);
  for (let i = 0; i < c.depth; i++) {
    const b = `${e}.blocks.${i}`;
    const size = c.glob.includes(i) ? g : c.window;
    norm(`${b}.norm1`, c.dim);
    lin(`${b}.attn.qkv`, 3 * c.dim, c.dim);
    lin(`${b}.attn.proj`, c.dim, c.dim);
    m.set(`${b}.attn.rel_pos_h`, [2 * size - 1, hd]);
    m.set(`${b}.attn.rel_pos_w`, [2 * size - 1, hd]);
    norm(`${b}.norm2`, c.dim);
    lin(`${b}.mlp.lin1`, 4 * c.dim, c.dim);
    lin(`${b}.mlp.lin2`, c.dim, 4 * c.dim);
  }
  m.set(`${e}.neck.0.weight`, [pd, c.dim, 1, 1]);
  norm(`${e}.neck.1`, pd);
  m.set(`${e}.neck.2.weight`, [pd, pd, 3, 3]);
  norm(`${e}.neck.3`, pd);

  const p = 'prompt_encoder';
  const mic = SAM_CONSTANTS.maskInChans;
  m.set(`${p}.pe_layer.positional_encoding_gaussian_matrix`, [2, pd / 2]);
  for (let k = 0; k < 4; k++) m.set(`${p}.point_embeddings.${k}.weight`, [1, pd]);
  m.set(`${p}.not_a_point_embed.weight`, [1, pd]);
  m.set(`${p}.no_mask_embed.weight`, [1, pd]);
  m.set(`${p}.mask_downscaling.0.weight`, [mic / 4, 1, 2, 2]);
  m.set(`${p}.mask_downscaling.0.bias`, [mic / 4]);
  norm(`${p}.mask_downscaling.1`, mic / 4);
  m.set(`${p}.mask_downscaling.3.weight`, [mic, mic / 4, 2, 2]);
  m.set(`${p}.mask_downscaling.3.bias`, [mic]);
  norm(`${p}.mask_downscaling.4`, mic);
  m.set(`${p}.mask_downscaling.6.weight`, [pd, mic, 1, 1]);
  m.set(`${p}.mask_downscaling.6.bias`, [pd]);

  const d = 'mask_decoder';
  const inner = pd / SAM_CONSTANTS.attentionDownsample;
  const attn = (pre: string, width: number): void => {
    lin(`${pre}.q_proj`, width, pd);
    lin(`${pre}.k_proj`, width, pd);
    lin(`${pre}.v_proj`, width, pd);
    lin(`${pre}.out_proj`, pd, width);
  };
  for (let i = 0; i < SAM_CONSTANTS.decoderDepth; i++) {
    const l = `${d}.transformer.layers.${i}`;
    attn(`${l}.self_attn`, pd);
    attn(`${l}.cross_attn_token_to_image`, inner);
    attn(`${l}.cross_attn_image_to_token`, inner);
    for (let k = 1; k <= 4; k++) norm(`${l}.norm${k}`, pd);
    lin(`${l}.mlp.lin1`, c.dmlp, pd);
    lin(`${l}.mlp.lin2`, pd, c.dmlp);
  }
  attn(`${d}.transformer.final_attn_token_to_image`, inner);
  norm(`${d}.transformer.norm_final_attn`, pd);
  const tokens = SAM_CONSTANTS.multimaskOutputs + 1;
  m.set(`${d}.iou_token.weight`, [1, pd]);
  m.set(`${d}.mask_tokens.weight`, [tokens, pd]);
  m.set(`${d}.output_upscaling.0.weight`, [pd, pd / 4, 2, 2]);
  m.set(`${d}.output_upscaling.0.bias`, [pd / 4]);
  norm(`${d}.output_upscaling.1`, pd / 4);
  m.set(`${d}.output_upscaling.3.weight`, [pd / 4, pd / 8, 2, 2]);
  m.set(`${d}.output_upscaling.3.bias`, [pd / 8]);
  for (let t = 0; t < tokens; t++) {
    const h = `${d}.output_hypernetworks_mlps.${t}.layers`;
    lin(`${h}.0`, pd, pd);
    lin(`${h}.1`, pd, pd);
    lin(`${h}.2`, pd / 8, pd);
  }
  lin(`${d}.iou_prediction_head.layers.0`, c.iouh, pd);
  lin(`${d}.iou_prediction_head.layers.1`, c.iouh, c.iouh);
  lin(`${d}.iou_prediction_head.layers.2`, tokens, c.iouh);
  return m;
}

/** Throws one error listing every missing, unexpected and mis-shaped key. */
export function checkStateDict(state: ReadonlyMap<string, HostTensor>, cfg: SamConfig, path: string): void {
  const want = expectedShapes(cfg);
  const missing = [...want.keys()].filter((k) => !state.has(k));
  const unexpected = [...state.keys()].filter((k) => !want.has(k));
  const misShaped = [...want.entries()]
    .filter(([k, s]) => state.has(k) && !sameShape(state.get(k)!.shape, s))
    .map(([k, s]) => `${k} ${fmt(state.get(k)!.shape)} (model wants ${fmt(s)})`);
  if (missing.length || unexpected.length || misShaped.length) {
    const parts = [
      missing.length ? `missing keys: ${missing.join(', ')}` : '',
      unexpected.length ? `unexpected keys: ${unexpected.join(', ')}` : '',
      misShaped.length ? `mis-shaped keys: ${misShaped.join(', ')}` : '',
    ].filter(Boolean);
    throw new Error(`checkpoint ${path} does not match the SAM model: ${parts.join('; ')}`);
  }
}

/** Reads, infers the config (with overrides for what shapes cannot tell), and checks the keys. */
export async function loadSamCheckpoint(path: string, overrides: Partial<SamConfig> = {}): Promise<LoadedCheckpoint> {
  const state = await readStateDict(path);
  const config = inferConfig(state, path, overrides);
  checkStateDict(state, config, path);
  return { path, config, state };
}
