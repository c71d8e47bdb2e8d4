// Softmax and GELU.

import { type Tensor, int } from '../graph.js';
import { normAxis } from '../shape.js';
import { add, div, erf, exp, mul } from './elementwise.js';

export function softmax(x: Tensor, axis = -1): Tensor {
  const a = normAxis('Softmax', axis, x.rank);
  return x.graph.addNode('Softmax', [x], { axis: int(a) }, [{ shape: x.shape, dtype: x.dtype }])[0]!;
}

/**
 * Exact (erf) GELU, as torch.nn.GELU(): 0.5 x (1 + erf(x / sqrt 2)), differentiated as one op:
 * d/dx = 0.5 (1 + erf(x / sqrt 2)) + x exp(-x^2 / 2) / sqrt(2 pi), from x alone, so the backward
 * pass keeps only x alive (not the four intermediates of the formula).
 */
export function gelu(x: Tensor): Tensor {
  return x.graph.composite('Gelu', [x], ([v]) => mul(mul(v!, 0.5), add(erf(div(v!, Math.SQRT2)), 1)), ([v], _y, dy) => {
    const cdf = mul(add(erf(div(v!, Math.SQRT2)), 1), 0.5);
    const pdf = mul(exp(mul(mul(v!, v!), -0.5)), 1 / Math.sqrt(2 * Math.PI));
    return [mul(dy, add(cdf, mul(v!, pdf)))];
  });
}
