// Gradient of Softmax: dx = y * (dy - sum(dy * y)) along the softmax axis.

import { mul, reduceSum, sub } from '../ops/index.js';
import { attrInt } from './attrs.js';
import { registerGradient } from './registry.js';

registerGradient('Softmax', ({ node, dOut: [dy] }) => {
  const y = node.outputs[0]!;
  const axis = attrInt(node.attrs.axis, -1);
  return [mul(y, sub(dy!, reduceSum(mul(dy!, y), [axis], true)))];
});
