// PromptEncoder: random-Fourier position encoding of points and box corners, the learned
// per-label embeddings, the no-mask embedding and the low-res mask prompt path.
//
// Sparse prompts use one layout for points and boxes, the one SAM's official ONNX decoder export
// uses: coords [B, P, 2] (x, y in the model frame) and labels -1 (padding, "not a point"),
// 0 (negative), 1 (positive), 2 / 3 (box top-left / bottom-right). The label is fed one-hot
// [B, P, 5] so the embedding lookup is a MatMul, and the token count is static per graph.

import type { Tensor } from '../graph/graph.js';
import * as op from '../graph/ops/index.js';
import { SAM_CONSTANTS, type SamConfig, gridSize } from './config.js';
import { layerNorm2d } from './layers.js';
import type { ParamBinder } from './params.js';

export const LABEL_SLOTS = 5; // -1, 0, 1, 2, 3

/** Position encoding of normalised coords [..., 2] in [0, 1]: [sin, cos] of 2 pi (2c - 1) G. */
function peEncoding(p: ParamBinder, coords01: Tensor): Tensor {
  const gauss = p.get('prompt_encoder.pe_layer.positional_encoding_gaussian_matrix'); // [2, pdim/2]
  const centred = op.sub(op.mul(coords01, 2), 1);
  const [lead, two] = [centred.shape.slice(0, -1), 2];
  const proj = op.reshape(op.matmul(op.reshape(centred, [-1, two]), gauss), [...lead, gauss.shape[1]!]);
  const angle = op.mul(proj, 2 * Math.PI);
  return op.concat([op.sin(angle), op.cos(angle)], -1);
}

/**
 * Sparse embeddings [B, P, pdim] of prompt tokens. coords are pixel positions in the model frame;
 * labelsOneHot [B, P, 5] picks not_a_point / point_embeddings[0..3] (slot = label + 1).
 */
export function sparseEmbeddings(p: ParamBinder, cfg: SamConfig, coords: Tensor, labelsOneHot: Tensor): Tensor {
  const shifted = op.add(coords, 0.5); // pixel centres
  const normalised = op.div(shifted, cfg.img); // input_image_size is (img, img): x / W, y / H
  const pe = peEncoding(p, normalised);
  // Padding tokens get no position encoding: multiply by (1 - onehot[..., 0]).
  const isPoint = op.sub(1, op.slice(labelsOneHot, [0], [1], [2]));
  const table = op.concat(
    [
      p.get('prompt_encoder.not_a_point_embed.weight'),
      ...[0, 1, 2, 3].map((k) => p.get(`prompt_encoder.point_embeddings.${k}.weight`)),
    ],
    0,
  ); // [5, pdim]
  const [b, n] = labelsOneHot.shape as [number, number, number];
  const labelEmbed = op.reshape(op.matmul(op.reshape(labelsOneHot, [b * n, LABEL_SLOTS]), table), [b, n, cfg.pdim]);
  return op.add(op.mul(pe, isPoint), labelEmbed);
}

/** Dense embedding [B, pdim, g, g]: the no-mask embedding, or the downscaled mask prompt. */
export function denseEmbeddings(p: ParamBinder, cfg: SamConfig, batch: number, maskInput?: Tensor, hasMask?: Tensor): Tensor {
  const g = gridSize(cfg);
  const noMask = op.expand(op.reshape(p.get('prompt_encoder.no_mask_embed.weight'), [1, cfg.pdim, 1, 1]), [batch, cfg.pdim, g, g]);
  if (!maskInput) return noMask;
  const masked = maskDownscaling(p, maskInput);
  if (!hasMask) return masked;
  // has_mask [B] in {0, 1} (the ONNX decoder export's switch between the two).
  const sel = op.reshape(hasMask, [batch, 1, 1, 1]);
  return op.add(op.mul(masked, sel), op.mul(noMask, op.sub(1, sel)));
}

/** mask [B, 1, 4g, 4g] -> [B, pdim, g, g]. */
function maskDownscaling(p: ParamBinder, mask: Tensor): Tensor {
  const pre = 'prompt_encoder.mask_downscaling';
  const eps = SAM_CONSTANTS.eps;
  let x = op.conv(mask, p.get(`${pre}.0.weight`), p.get(`${pre}.0.bias`), { strides: [2, 2] });
  x = op.gelu(layerNorm2d(p, `${pre}.1`, x, eps));
  x = op.conv(x, p.get(`${pre}.3.weight`), p.get(`${pre}.3.bias`), { strides: [2, 2] });
  x = op.gelu(layerNorm2d(p, `${pre}.4`, x, eps));
  return op.conv(x, p.get(`${pre}.6.weight`), p.get(`${pre}.6.bias`));
}

/** get_dense_pe(): the [1, pdim, g, g] position encoding of the embedding grid, as float32 like PyTorch. */
export function densePositionEncoding(p: ParamBinder, cfg: SamConfig): Tensor {
  const g = gridSize(cfg);
  const gauss = p.state.get('prompt_encoder.pe_layer.positional_encoding_gaussian_matrix');
  if (!gauss) throw new Error('weights: missing tensor "prompt_encoder.pe_layer.positional_encoding_gaussian_matrix"');
  const half = gauss.shape[1]!;
  const out = new Float32Array(2 * half * g * g);
  const f = Math.fround;
  for (let y = 0; y < g; y++) {
    for (let x = 0; x < g; x++) {
      const cx = f(2 * f(f(x + 0.5) / g) - 1);
      const cy = f(2 * f(f(y + 0.5) / g) - 1);
      for (let k = 0; k < half; k++) {
        const a = f(2 * Math.PI * f(cx * gauss.data[k]! + cy * gauss.data[half + k]!));
        out[(k * g + y) * g + x] = Math.sin(a);
        out[((half + k) * g + y) * g + x] = Math.cos(a);
      }
    }
  }
  const graph = p.graph;
  return graph.initializer(graph.uniqueName('dense_pe'), [1, 2 * half, g, g], out);
}
