// Gradients of reductions: dY is broadcast back over the reduced axes.

import type { Node, Tensor } from '../graph.js';
import { div, expand, reshape } from '../ops/index.js';
import { numel } from '../../tensor/host_tensor.js';
import { registerGradient } from './registry.js';

function spread(node: Node, dy: Tensor): Tensor {
  const x = node.inputs[0]!;
  const axes = node.meta.axes as number[];
  const kept = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  return expand(reshape(dy, kept), x.shape);
}

registerGradient('ReduceSum', ({ node, dOut: [dy] }) => [spread(node, dy!), undefined]);

registerGradient('ReduceMean', ({ node, dOut: [dy] }) => {
  const x = node.inputs[0]!;
  const count = numel((node.meta.axes as number[]).map((a) => x.shape[a]!));
  return [div(spread(node, dy!), count)];
});
