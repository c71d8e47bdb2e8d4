// Ops that move data without arithmetic. Shape arguments are static JS arrays, emitted as
// int64 constants, and kept in the node's meta for the gradient rules.

import { type Tensor, int, ints } from '../graph.js';
import { type Shape, ShapeError, fmt, normAxis } from '../shape.js';
import { numel } from '../../tensor/host_tensor.js';

function i64(x: Tensor, values: readonly number[]): Tensor {
  return x.graph.constant(values, [values.length], 'int64');
}

/** Reshape with static target; one -1 is inferred, 0 is not special. */
export function reshape(x: Tensor, shape: Shape): Tensor {
  const known = shape.reduce((p, d) => (d === -1 ? p : p * d), 1);
  const holes = shape.filter((d) => d === -1).length;
  if (holes > 1) throw new ShapeError('Reshape', `more than one -1 in ${fmt(shape)}`);
  const target = shape.map((d) => (d === -1 ? x.size / known : d));
  if (!target.every((d) => Number.isInteger(d) && d >= 0) || numel(target) !== x.size) {
    throw new ShapeError('Reshape', `cannot reshape ${fmt(x.shape)} (${x.size} elements) to ${fmt(shape)}`);
  }
  if (target.length === x.rank && target.every((d, i) => d === x.shape[i])) return x;
  return x.graph.addNode('Reshape', [x, i64(x, target)], {}, [{ shape: target, dtype: x.dtype }])[0]!;
}

export function transpose(x: Tensor, perm: readonly number[]): Tensor {
  if (perm.length !== x.rank || [...perm].sort((a, b) => a - b).some((p, i) => p !== i)) {
    throw new ShapeError('Transpose', `perm ${fmt(perm)} is not a permutation for ${fmt(x.shape)}`);
  }
  if (perm.every((p, i) => p === i)) return x;
  const shape = perm.map((p) => x.shape[p]!);
  return x.graph.addNode('Transpose', [x], { perm: ints(perm) }, [{ shape, dtype: x.dtype }])[0]!;
}

/** Slice with unit step: [starts, ends) along axes (ends clamp to the dim, negatives count from the end). */
export function slice(x: Tensor, starts: readonly number[], ends: readonly number[], axes?: readonly number[]): Tensor {
  const ax = (axes ?? starts.map((_, i) => i)).map((a) => normAxis('Slice', a, x.rank));
  if (starts.length !== ax.length || ends.length !== ax.length) {
    throw new ShapeError('Slice', `starts/ends/axes lengths differ: ${starts.length}/${ends.length}/${ax.length}`);
  }
  const shape = [...x.shape];
  const begin = x.shape.map(() => 0);
  ax.forEach((a, k) => {
    const dim = x.shape[a]!;
    const clamp = (v: number): number => Math.min(Math.max(v < 0 ? v + dim : v, 0), dim);
    const s = clamp(starts[k]!);
    const e = clamp(ends[k]!);
    if (e < s) throw new ShapeError('Slice', `empty range [${starts[k]}, ${ends[k]}) on axis ${a} of ${fmt(x.shape)}`);
    shape[a] = e - s;
    begin[a] = s;
  });
  const inputs = [x, i64(x, starts), i64(x, ends), i64(x, ax)];
  return x.graph.addNode('Slice', inputs, {}, [{ shape, dtype: x.dtype }], { begin })[0]!;
}

/** Constant padding: pads = [x1_begin, x2_begin, ..., x1_end, x2_end, ...] (ONNX order), non-negative. */
export function pad(x: Tensor, pads: readonly number[], value = 0): Tensor {
  if (pads.length !== 2 * x.rank || pads.some((p) => p < 0 || !Number.isInteger(p))) {
    throw new ShapeError('Pad', `pads ${fmt(pads)} do not fit ${fmt(x.shape)} (want ${2 * x.rank} non-negative ints)`);
  }
  if (pads.every((p) => p === 0)) return x;
  const shape = x.shape.map((d, i) => d + pads[i]! + pads[i + x.rank]!);
  const inputs = [x, i64(x, pads), x.graph.scalar(value, x.dtype)];
  return x.graph.addNode('Pad', inputs, { mode: { s: 'constant' } }, [{ shape, dtype: x.dtype }], { pads: [...pads] })[0]!;
}

export function concat(xs: readonly Tensor[], axis: number): Tensor {
  if (xs.length === 0) throw new ShapeError('Concat', 'no inputs');
  const first = xs[0]!;
  const a = normAxis('Concat', axis, first.rank);
  let total = 0;
  for (const x of xs) {
    if (x.dtype !== first.dtype) throw new ShapeError('Concat', `dtypes differ: ${xs.map((t) => `${t.dtype}${fmt(t.shape)}`).join(', ')}`);
    const ok = x.rank === first.rank && x.shape.every((d, i) => i === a || d === first.shape[i]);
    if (!ok) throw new ShapeError('Concat', `shapes ${xs.map((t) => fmt(t.shape)).join(', ')} differ off axis ${axis}`);
    total += x.shape[a]!;
  }
  if (xs.length === 1) return first;
  const shape = [...first.shape];
  shape[a] = total;
  return first.graph.addNode('Concat', xs, { axis: int(a) }, [{ shape, dtype: first.dtype }])[0]!;
}

export function split(x: Tensor, sizes: readonly number[], axis: number): Tensor[] {
  const a = normAxis('Split', axis, x.rank);
  const total = sizes.reduce((p, s) => p + s, 0);
  if (total !== x.shape[a]) throw new ShapeError('Split', `sizes ${fmt(sizes)} do not sum to dim ${x.shape[a]} of ${fmt(x.shape)}`);
  const outs = sizes.map((s) => {
    const shape = [...x.shape];
    shape[a] = s;
    return { shape, dtype: x.dtype };
  });
  return x.graph.addNode('Split', [x, i64(x, sizes)], { axis: int(a) }, outs);
}

/** Broadcasts x to shape (numpy rules, result rank = max of both). */
export function expand(x: Tensor, shape: Shape): Tensor {
  const rank = Math.max(x.rank, shape.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const dx = x.shape[x.rank - rank + i] ?? 1;
    const ds = shape[shape.length - rank + i] ?? 1;
    if (dx !== ds && dx !== 1 && ds !== 1) throw new ShapeError('Expand', `cannot expand ${fmt(x.shape)} to ${fmt(shape)}`);
    out.push(dx === 1 ? ds : dx);
  }
  if (out.length === x.rank && out.every((d, i) => d === x.shape[i])) return x;
  return x.graph.addNode('Expand', [x, i64(x, shape)], {}, [{ shape: out, dtype: x.dtype }])[0]!;
}

/** Gather along axis with constant indices of any shape. */
export function gather(x: Tensor, indices: readonly number[], indicesShape: Shape, axis: number): Tensor {
  const a = normAxis('Gather', axis, x.rank);
  const dim = x.shape[a]!;
  if (indices.length !== numel(indicesShape)) throw new ShapeError('Gather', `${indices.length} indices for shape ${fmt(indicesShape)}`);
  const bad = indices.find((i) => !Number.isInteger(i) || i < -dim || i >= dim);
  if (bad !== undefined) throw new ShapeError('Gather', `index ${bad} out of range for axis ${a} of ${fmt(x.shape)}`);
  const idx = indices.map((i) => (i < 0 ? i + dim : i));
  const shape = [...x.shape.slice(0, a), ...indicesShape, ...x.shape.slice(a + 1)];
  const inputs = [x, x.graph.constant(idx, indicesShape, 'int64')];
  return x.graph.addNode('Gather', inputs, { axis: int(a) }, [{ shape, dtype: x.dtype }], { indices: idx, indicesShape: [...indicesShape] })[0]!;
}

export function unsqueeze(x: Tensor, axes: readonly number[]): Tensor {
  const rank = x.rank + axes.length;
  const ax = axes.map((a) => normAxis('Unsqueeze', a, rank)).sort((p, q) => p - q);
  const shape: number[] = [];
  let src = 0;
  for (let i = 0; i < rank; i++) shape.push(ax.includes(i) ? 1 : x.shape[src++]!);
  return x.graph.addNode('Unsqueeze', [x, i64(x, ax)], {}, [{ shape, dtype: x.dtype }])[0]!;
}

export function squeeze(x: Tensor, axes: readonly number[]): Tensor {
  const ax = axes.map((a) => normAxis('Squeeze', a, x.rank));
  for (const a of ax) if (x.shape[a] !== 1) throw new ShapeError('Squeeze', `axis ${a} of ${fmt(x.shape)} is not 1`);
  const shape = x.shape.filter((_, i) => !ax.includes(i));
  return x.graph.addNode('Squeeze', [x, i64(x, ax)], {}, [{ shape, dtype: x.dtype }])[0]!;
}

export function identity(x: Tensor): Tensor {
  return x.graph.addNode('Identity', [x], {}, [{ shape: x.shape, dtype: x.dtype }])[0]!;
}
