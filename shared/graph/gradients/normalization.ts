// Gradient of LayerNormalization, reusing the Mean and InvStdDev the forward node outputs:
// dx = inv_std * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)), dxhat = dy * scale.

import type { Tensor } from '../graph.js';
import { add, cast, div, mul, reduceMean, reduceSum, sqrt, sub } from '../ops/index.js';
import { attrFloat, attrInt } from './attrs.js';
import { registerGradient } from './registry.js';

registerGradient('LayerNormalization', ({ node, dOut: [dy], needs }) => {
  const [x, scale] = node.inputs as [Tensor, Tensor, Tensor | null];
  const axis = attrInt(node.attrs.axis, -1);
  const a = axis < 0 ? axis + x.rank : axis;
  const normAxes = x.shape.map((_, i) => i).filter((i) => i >= a);
  const batchAxes = x.shape.map((_, i) => i).filter((i) => i < a);
  // The statistics outputs are float32 (the stash type) whatever x's dtype. For float32 and float16
  // x they are reused (cast is a no-op for float32); a float64 x recomputes them in float64, since
  // float32-rounded statistics would cap the gradient's accuracy near 1e-7.
  const [, mean32, invStd32] = node.outputs as [Tensor, Tensor, Tensor];
  let mean: Tensor;
  let invStd: Tensor;
  if (x.dtype === 'float64') {
    mean = reduceMean(x, normAxes, true);
    const centredX = sub(x, mean);
    invStd = div(1, sqrt(add(reduceMean(mul(centredX, centredX), normAxes, true), Math.fround(attrFloat(node.attrs.epsilon, 1e-5)))));
  } else {
    mean = cast(mean32, x.dtype);
    invStd = cast(invStd32, x.dtype);
  }
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
