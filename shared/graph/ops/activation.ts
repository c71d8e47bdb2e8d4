// Softmax and GELU.

import { type Tensor, int } from '../graph.js';
import { normAxis } from '../shape.js';
import { add, div, erf, mul } from './elementwise.js';

export function softmax(x: Tensor, axis = -1): Tensor {
  const a = normAxis('Softmax', axis, x.rank);
  return x.graph.addNode('Softmax', [x], { axis: int(a) }, [{ shape: x.shape, dtype: x.dtype }])[0]!;
}

/** Exact (erf) GELU, as torch.nn.GELU(): 0.5 x (1 + erf(x / sqrt 2)). */
export function gelu(x: Tensor): Tensor {
  return mul(mul(x, 0.5), add(erf(div(x, Math.SQRT2)), 1));
}
