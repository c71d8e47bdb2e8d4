// Reductions over static axes.

import { type Tensor, int, ints } from '../graph.js';
import { normAxis } from '../shape.js';

function reducedShape(op: string, x: Tensor, axes: readonly number[], keepdims: boolean): { ax: number[]; shape: number[] } {
  const ax = [...new Set(axes.map((a) => normAxis(op, a, x.rank)))].sort((p, q) => p - q);
  const shape = keepdims ? x.shape.map((d, i) => (ax.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !ax.includes(i));
  return { ax, shape };
}

// An explicit empty axis list reduces nothing (numpy's axis=()), so x comes back unchanged. It must
// not reach ONNX: an empty axes input or attribute there means "reduce every axis".

/** Sum over axes (all axes when omitted). */
export function reduceSum(x: Tensor, axes?: readonly number[], keepdims = false): Tensor {
  if (axes && axes.length === 0) return x;
  const { ax, shape } = reducedShape('ReduceSum', x, axes ?? x.shape.map((_, i) => i), keepdims);
  const inputs = [x, x.graph.constant(ax, [ax.length], 'int64')];
  return x.graph.addNode('ReduceSum', inputs, { keepdims: int(keepdims ? 1 : 0) }, [{ shape, dtype: x.dtype }], { axes: ax })[0]!;
}

/** Mean over axes (all axes when omitted). Opset 17 takes axes as an attribute. */
export function reduceMean(x: Tensor, axes?: readonly number[], keepdims = false): Tensor {
  if (axes && axes.length === 0) return x;
  const { ax, shape } = reducedShape('ReduceMean', x, axes ?? x.shape.map((_, i) => i), keepdims);
  return x.graph.addNode('ReduceMean', [x], { axes: ints(ax), keepdims: int(keepdims ? 1 : 0) }, [{ shape, dtype: x.dtype }], { axes: ax })[0]!;
}

/** Max over axes; not differentiated (used for metrics and masks). */
export function reduceMax(x: Tensor, axes?: readonly number[], keepdims = false): Tensor {
  if (axes && axes.length === 0) return x;
  const { ax, shape } = reducedShape('ReduceMax', x, axes ?? x.shape.map((_, i) => i), keepdims);
  return x.graph.addNode('ReduceMax', [x], { axes: ints(ax), keepdims: int(keepdims ? 1 : 0) }, [{ shape, dtype: x.dtype }], { axes: ax })[0]!;
}
