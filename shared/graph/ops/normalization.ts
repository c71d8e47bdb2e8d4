// Layer normalisation: the ONNX op over trailing axes, and SAM's channel-first LayerNorm2d.

import { type Tensor, float, int } from '../graph.js';
import { ShapeError, fmt, normAxis, sameShape } from '../shape.js';
import { transpose } from './shape_ops.js';

/** LayerNormalization over axes [axis, rank); scale and bias have shape x.shape[axis:]. */
export function layerNorm(x: Tensor, scale: Tensor, bias: Tensor | null, eps: number, axis = -1): Tensor {
  const a = normAxis('LayerNormalization', axis, x.rank);
  const normShape = x.shape.slice(a);
  if (!sameShape(scale.shape, normShape) || (bias && !sameShape(bias.shape, normShape))) {
    throw new ShapeError('LayerNormalization', `scale ${fmt(scale.shape)}${bias ? ` / bias ${fmt(bias.shape)}` : ''} do not match normalised dims ${fmt(normShape)} of ${fmt(x.shape)}`);
  }
  const statShape = x.shape.map((d, i) => (i < a ? d : 1));
  // Mean and InvStdDev are kept as outputs so the gradient rule reuses them. Their type is the
  // stash type (float32, stash_type = 1), not x's: ONNX constrains it to float/bfloat16, so for a
  // float64 or float16 x they are float32 and the rule casts them.
  const [y] = x.graph.addNode(
    'LayerNormalization',
    bias ? [x, scale, bias] : [x, scale],
    { axis: int(a), epsilon: float(eps), stash_type: int(1) },
    [
      { shape: x.shape, dtype: x.dtype },
      { shape: statShape, dtype: 'float32' },
      { shape: statShape, dtype: 'float32' },
    ],
  );
  return y!;
}

/** SAM's LayerNorm2d: normalise [B, C, H, W] over C, with per-channel weight and bias. */
export function layerNorm2d(x: Tensor, weight: Tensor, bias: Tensor, eps: number): Tensor {
  if (x.rank !== 4) throw new ShapeError('LayerNorm2d', `input must be [B, C, H, W], got ${fmt(x.shape)}`);
  const y = layerNorm(transpose(x, [0, 2, 3, 1]), weight, bias, eps, -1);
  return transpose(y, [0, 3, 1, 2]);
}
