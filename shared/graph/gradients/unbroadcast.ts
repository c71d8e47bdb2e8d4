// Undoes numpy broadcasting: sums a gradient back down to the shape of the operand it flows to.

import type { Tensor } from '../graph.js';
import { reduceSum, reshape } from '../ops/index.js';
import type { Shape } from '../shape.js';

export function unbroadcast(grad: Tensor, shape: Shape): Tensor {
  const lead = grad.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < grad.rank; i++) {
    const target = i < lead ? 1 : shape[i - lead]!;
    if (i < lead || (target === 1 && grad.shape[i] !== 1)) axes.push(i);
  }
  const summed = axes.length ? reduceSum(grad, axes, true) : grad;
  return reshape(summed, shape);
}
