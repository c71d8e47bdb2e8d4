// Gradients of Conv and ConvTranspose (NCHW). Each is the other's input gradient; the weight
// gradient is a convolution with batch and channels swapped (strides and dilations trade places).

import type { Node, Tensor } from '../graph.js';
import { conv, convTranspose, reduceSum, slice, transpose } from '../ops/index.js';
import { attrInt, attrInts } from './attrs.js';
import { registerGradient } from './registry.js';

interface ConvAttrs {
  s: [number, number];
  p: [number, number, number, number];
  d: [number, number];
  g: number;
}

function convAttrs(node: Node): ConvAttrs {
  return {
    s: [...attrInts(node.attrs.strides, [1, 1])] as [number, number],
    p: [...attrInts(node.attrs.pads, [0, 0, 0, 0])] as [number, number, number, number],
    d: [...attrInts(node.attrs.dilations, [1, 1])] as [number, number],
    g: attrInt(node.attrs.group, 1),
  };
}

const swapNC = (t: Tensor): Tensor => transpose(t, [1, 0, 2, 3]);

/** Correlates `signal` [B, Cs, ...] with `kernel` [B, Ck, ...] over B; result [Cs, Ck, kh, kw]. */
function weightGrad(signal: Tensor, kernel: Tensor, a: ConvAttrs, kh: number, kw: number, op: string): Tensor {
  if (a.g !== 1) throw new Error(`${op}: weight gradient for group ${a.g} is not supported`);
  const full = conv(swapNC(signal), swapNC(kernel), null, { strides: a.d, dilations: a.s, pads: a.p });
  return slice(full, [0, 0], [kh, kw], [2, 3]);
}

registerGradient('Conv', ({ node, dOut: [dy], needs }) => {
  const [x, w, b] = node.inputs as [Tensor, Tensor, Tensor | null];
  const a = convAttrs(node);
  const [kh, kw] = w.shape.slice(2) as [number, number];
  let dx: Tensor | undefined;
  if (needs[0]) {
    // Output padding recovers rows the strided forward conv never reached.
    const [oh, ow] = dy!.shape.slice(2) as [number, number];
    const outputPadding: [number, number] = [
      x.shape[2]! - (a.s[0] * (oh - 1) + a.d[0] * (kh - 1) + 1 - a.p[0] - a.p[2]),
      x.shape[3]! - (a.s[1] * (ow - 1) + a.d[1] * (kw - 1) + 1 - a.p[1] - a.p[3]),
    ];
    dx = convTranspose(dy!, w, null, { strides: a.s, pads: a.p, dilations: a.d, group: a.g, outputPadding });
  }
  // dW[m, c] = sum_n x[n, c] * dy[n, m]  ->  conv(x^T, dy^T) is [C, M, ...]; swap to [M, C, ...].
  const dw = needs[1] ? swapNC(weightGrad(x, dy!, a, kh, kw, 'Conv')) : undefined;
  const db = b && needs[2] ? reduceSum(dy!, [0, 2, 3]) : undefined;
  return [dx, dw, db];
});

registerGradient('ConvTranspose', ({ node, dOut: [dy], needs }) => {
  const [x, w, b] = node.inputs as [Tensor, Tensor, Tensor | null];
  const a = convAttrs(node);
  const [kh, kw] = w.shape.slice(2) as [number, number];
  const dx = needs[0] ? conv(dy!, w, null, { strides: a.s, pads: a.p, dilations: a.d, group: a.g }) : undefined;
  // dW[c, m] = sum_n x[n, c] * dy[n, m]  ->  conv(dy^T, x^T) is [M, C, ...]; swap to [C, M, ...].
  const dw = needs[1] ? swapNC(weightGrad(dy!, x, a, kh, kw, 'ConvTranspose')) : undefined;
  const db = b && needs[2] ? reduceSum(dy!, [0, 2, 3]) : undefined;
  return [dx, dw, db];
});
