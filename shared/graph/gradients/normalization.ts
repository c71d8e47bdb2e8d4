// Gradient of LayerNormalization, reusing the Mean and InvStdDev the forward node outputs:
// dx = inv_std * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)), dxhat = dy * scale.

import type { Tensor } from '../graph.js';
import { mul, reduceMean, reduceSum, sub } from '../ops/index.js';
import { attrInt } from './attrs.js';
import { registerGradient } from './registry.js';

registerGradient('LayerNormalization', ({ node, dOut: [dy], needs }) => {
  const [x, scale] = node.inputs as [Tensor, Tensor, Tensor | null];
  const [, mean, invStd] = node.outputs as [Tensor, Tensor, Tensor];
  const axis = attrInt(node.attrs.axis, -1);
  const a = axis < 0 ? axis + x.rank : axis;
  const normAxes = x.shape.map((_, i) => i).filter((i) => i >= a);
  const batchAxes = x.shape.map((_, i) => i).filter((i) => i < a);
  const xhat = mul(sub(x, mean), invStd);
  const sumOverBatch = (t: Tensor): Tensor => (batchAxes.length ? reduceSum(t, batchAxes) : t);

  let dx: Tensor | undefined;
  if (needs[0]) {
    const dxhat = mul(dy!, scale);
    const centred = sub(dxhat, reduceMean(dxhat, normAxes, true));
    dx = mul(invStd, sub(centred, mul(xhat, reduceMean(mul(dxhat, xhat), normAxes, true))));
  }
  return [dx, needs[1] ? sumOverBatch(mul(dy!, xhat)) : undefined, needs[2] ? sumOverBatch(dy!) : undefined];
});
