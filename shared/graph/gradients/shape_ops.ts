// Gradients of data-movement ops: each routes dY back to where the element came from.

import type { Tensor } from '../graph.js';
import { concat, expand, matmul, pad, reshape, slice, split, transpose } from '../ops/index.js';
import { numel } from '../../tensor/host_tensor.js';
import { attrInt, attrInts } from './attrs.js';
import { registerGradient } from './registry.js';
import { unbroadcast } from './unbroadcast.js';

const backToShape = ({ node, dOut: [dy] }: { node: { inputs: readonly (Tensor | null)[] }; dOut: readonly (Tensor | undefined)[] }) => [
  reshape(dy!, node.inputs[0]!.shape),
];
registerGradient('Reshape', backToShape);
registerGradient('Unsqueeze', backToShape);
registerGradient('Squeeze', backToShape);

registerGradient('Transpose', ({ node, dOut: [dy] }) => {
  const perm = attrInts(node.attrs.perm);
  const inverse = new Array<number>(perm.length);
  perm.forEach((p, i) => (inverse[p] = i));
  return [transpose(dy!, inverse)];
});

registerGradient('Slice', ({ node, dOut: [dy] }) => {
  const x = node.inputs[0]!;
  const begin = node.meta.begin as number[];
  const pads = [...begin, ...x.shape.map((d, i) => d - begin[i]! - dy!.shape[i]!)];
  return [pad(dy!, pads)];
});

registerGradient('Pad', ({ node, dOut: [dy] }) => {
  const x = node.inputs[0]!;
  const pads = node.meta.pads as number[];
  const starts = x.shape.map((_, i) => pads[i]!);
  return [slice(dy!, starts, starts.map((s, i) => s + x.shape[i]!))];
});

registerGradient('Concat', ({ node, dOut: [dy], needs }) => {
  const axis = attrInt(node.attrs.axis);
  const parts = split(dy!, node.inputs.map((x) => x!.shape[axis]!), axis);
  return parts.map((p, i) => (needs[i] ? p : undefined));
});

registerGradient('Split', ({ node, dOut }) => {
  const axis = attrInt(node.attrs.axis);
  // Outputs nobody used get zeros so the pieces line up again.
  const parts = node.outputs.map((o, i) => dOut[i] ?? expand(o.graph.scalar(0, o.dtype), o.shape));
  return [concat(parts, axis), undefined];
});

registerGradient('Expand', ({ node, dOut: [dy] }) => [unbroadcast(dy!, node.inputs[0]!.shape)]);

// Constant indices: scatter-add as a product with the transposed one-hot matrix, which handles
// repeated indices and needs no ScatterND kernel.
registerGradient('Gather', ({ node, dOut: [dy] }) => {
  const x = node.inputs[0]!;
  const axis = attrInt(node.attrs.axis);
  const indices = node.meta.indices as number[];
  const before = numel(x.shape.slice(0, axis));
  const after = numel(x.shape.slice(axis + 1));
  const dim = x.shape[axis]!;
  const oneHotT = new Float32Array(dim * indices.length);
  indices.forEach((d, i) => (oneHotT[d * indices.length + i]! += 1));
  const scatter = x.graph.constant(oneHotT, [dim, indices.length], x.dtype);
  const rows = reshape(dy!, [before, indices.length, after]);
  return [reshape(matmul(scatter, rows), x.shape), undefined];
});
