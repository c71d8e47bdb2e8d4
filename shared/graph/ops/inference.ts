// Inference-only ops: values read at run time (a tensor's shape, an argmax index, a size computed
// from an input) for exported inference graphs such as SAM's ONNX decoder. They are never
// differentiated: each node is marked `inferenceOnly` and autodiff refuses it.
//
// A tensor whose size is only known at run time (sliceTo, resizeLinear with run-time sizes) still
// carries a static placeholder shape, which is wrong at run time: feed it only to ops that emit no
// shape constants (element-wise ops, Resize, graph outputs), never to Reshape, Expand or Slice.

import { type Tensor, int, str } from '../graph.js';
import { type Shape, ShapeError, fmt, normAxis } from '../shape.js';

/** Marks a node as one autodiff must refuse (see autodiff.ts). */
export const INFERENCE_ONLY = { inferenceOnly: true } as const;

export function isInferenceOnly(meta: Readonly<Record<string, unknown>>): boolean {
  return meta.inferenceOnly === true;
}

function checkIndexTensor(op: string, t: Tensor): void {
  if (t.dtype !== 'int64') throw new ShapeError(op, `${t.name} must be int64, got ${t.dtype}`);
}

/** The run-time shape of x: int64 [rank]. */
export function shapeOf(x: Tensor): Tensor {
  return x.graph.addNode('Shape', [x], {}, [{ shape: [x.rank], dtype: 'int64' }], INFERENCE_ONLY)[0]!;
}

export function floor(x: Tensor): Tensor {
  return x.graph.addNode('Floor', [x], {}, [{ shape: x.shape, dtype: x.dtype }], INFERENCE_ONLY)[0]!;
}

/** Index of the first maximum along axis (torch.argmax's tie rule): int64. */
export function argMax(x: Tensor, axis: number, keepdims = false): Tensor {
  const a = normAxis('ArgMax', axis, x.rank);
  const shape = keepdims ? x.shape.map((d, i) => (i === a ? 1 : d)) : x.shape.filter((_, i) => i !== a);
  const attrs = { axis: int(a), keepdims: int(keepdims ? 1 : 0), select_last_index: int(0) };
  return x.graph.addNode('ArgMax', [x], attrs, [{ shape, dtype: 'int64' }], INFERENCE_ONLY)[0]!;
}

/** Gather along axis with indices computed at run time (int64, in range). */
export function gatherAt(x: Tensor, indices: Tensor, axis: number): Tensor {
  checkIndexTensor('Gather', indices);
  const a = normAxis('Gather', axis, x.rank);
  const shape = [...x.shape.slice(0, a), ...indices.shape, ...x.shape.slice(a + 1)];
  return x.graph.addNode('Gather', [x, indices], { axis: int(a) }, [{ shape, dtype: x.dtype }], INFERENCE_ONLY)[0]!;
}

/**
 * x[..., :ends[0], :ends[1], ...] on the given axes, with ends (int64 [axes.length]) computed at run
 * time. The static shape is x's (an upper bound): a placeholder, see the note at the top.
 */
export function sliceTo(x: Tensor, ends: Tensor, axes: readonly number[]): Tensor {
  checkIndexTensor('Slice', ends);
  if (ends.rank !== 1 || ends.shape[0] !== axes.length) throw new ShapeError('Slice', `ends ${fmt(ends.shape)} do not match axes ${fmt(axes)}`);
  const ax = axes.map((a) => normAxis('Slice', a, x.rank));
  const g = x.graph;
  const starts = g.constant(ax.map(() => 0), [ax.length], 'int64');
  const inputs = [x, starts, ends, g.constant(ax, [ax.length], 'int64')];
  return g.addNode('Slice', inputs, {}, [{ shape: x.shape, dtype: x.dtype }], INFERENCE_ONLY)[0]!;
}

/**
 * Bilinear resize (ONNX Resize, linear, half_pixel, no antialias: PyTorch's
 * interpolate(bilinear, align_corners=False), including its source-index clamp at 0) to sizes, an
 * int64 [rank] tensor. `shape` is the static shape to record: exact when sizes is a constant, a
 * placeholder when it is computed at run time.
 */
export function resizeLinear(x: Tensor, sizes: Tensor, shape: Shape): Tensor {
  checkIndexTensor('Resize', sizes);
  if (sizes.rank !== 1 || sizes.shape[0] !== x.rank || shape.length !== x.rank) {
    throw new ShapeError('Resize', `sizes ${fmt(sizes.shape)} / shape ${fmt(shape)} do not match ${fmt(x.shape)}`);
  }
  const attrs = { mode: str('linear'), coordinate_transformation_mode: str('half_pixel') };
  return x.graph.addNode('Resize', [x, null, null, sizes], attrs, [{ shape, dtype: x.dtype }], INFERENCE_ONLY)[0]!;
}
