// Gradient reduction: the workers' gradient sums added in a fixed (worker) order, then divided by
// the step's total sample weight, so the result is the batch-mean gradient whatever the split.
//
// This runs once per step over every worker's gradients, so it is written to touch memory as
// little as possible: the result arrays are reused from step to step (`into`), and the division
// and the finiteness check ride along with the last worker's addition instead of taking passes of
// their own. The arithmetic (0 + g0 + g1 + ... then / weight, in float32) is the same as adding
// into zeros and dividing afterwards, to the bit. The training loop reduces in slices
// (reduceResultsSliced): a single pass over 8 x 16 MB would hold the event loop, and with it the
// heartbeats and health checks, for a few hundred ms.

import type { StepResult } from '../shared/contract/worker_endpoint.js';

export interface Reduced {
  grads: Map<string, Float32Array>;
  loss: number;
  weight: number;
  /** Every reduced gradient element is finite (false after an overflow). */
  finite: boolean;
  /** A worker reported an fp16 overflow: `grads` holds nothing of this step (not reduced). */
  overflow: boolean;
}

/**
 * Sums the results' gradients (in result order), divides by the total weight (when positive) and
 * says whether all of it is finite. `into`, when its arrays have the shapes' sizes, receives the
 * result (it is overwritten); otherwise new arrays are allocated. Runs in one go: for gradients of
 * many megabytes from many workers, reduceResultsSliced keeps the event loop free.
 */
export function reduceResults(results: readonly StepResult[], shapes: ReadonlyMap<string, readonly number[]>, into?: Map<string, Float32Array>): Reduced {
  const plan = planReduction(results, shapes, into);
  for (const t of plan.tensors) plan.finite = reduceRange(t, plan.weight, 0, t.acc.length) && plan.finite;
  return plan.done();
}

/** Values added per slice of reduceResultsSliced (8 MB of float32 read): a few ms of the event loop. */
export const REDUCE_SLICE_VALUES = 1 << 21;

/**
 * reduceResults, the same to the bit (each element is summed in the same order), in slices of
 * about `sliceValues` added values with the event loop let run between them (setImmediate): the
 * coordinator keeps reading heartbeats and answering health checks while it reduces 8 workers'
 * 16 MB gradients. The results' arrays must not change until it resolves.
 */
export async function reduceResultsSliced(
  results: readonly StepResult[],
  shapes: ReadonlyMap<string, readonly number[]>,
  into?: Map<string, Float32Array>,
  sliceValues = REDUCE_SLICE_VALUES,
): Promise<Reduced> {
  const plan = planReduction(results, shapes, into);
  const step = Math.max(1024, Math.ceil(sliceValues / Math.max(1, results.length)));
  let sinceYield = 0;
  for (const t of plan.tensors) {
    for (let from = 0; from < t.acc.length; from += step) {
      if (sinceYield >= step) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        sinceYield = 0;
      }
      const to = Math.min(t.acc.length, from + step);
      plan.finite = reduceRange(t, plan.weight, from, to) && plan.finite;
      sinceYield += to - from;
    }
  }
  return plan.done();
}

interface TensorReduction {
  acc: Float32Array;
  parts: Float32Array[];
}

interface ReductionPlan {
  tensors: TensorReduction[];
  weight: number;
  finite: boolean;
  done: () => Reduced;
}

/** Checks the results against the shapes and pairs each result array with its gradient's arrays. */
function planReduction(results: readonly StepResult[], shapes: ReadonlyMap<string, readonly number[]>, into?: Map<string, Float32Array>): ReductionPlan {
  const grads = fits(into, shapes) ? into : new Map([...shapes].map(([k, s]) => [k, new Float32Array(s.reduce((a, b) => a * b, 1))]));
  let weight = 0;
  let lossSum = 0;
  for (const r of results) {
    weight += r.weightSum;
    lossSum += r.lossSum;
  }
  const loss = weight > 0 ? lossSum / weight : Number.NaN;
  // An overflow skips the step for everyone: the other workers' gradients are not needed.
  if (results.some((r) => r.overflow)) return { tensors: [], weight, finite: false, done: () => ({ grads, loss, weight, finite: false, overflow: true }) };
  const tensors = [...grads].map(([k, acc]) => ({
    acc,
    parts: results.map((r) => {
      const g = r.grads.get(k);
      if (!g) throw new Error(`reduce: a worker returned no gradient for ${k}`);
      if (g.length !== acc.length) throw new Error(`reduce: gradient ${k} has ${g.length} values, expected ${acc.length}`);
      return g;
    }),
  }));
  const plan: ReductionPlan = {
    tensors,
    weight,
    finite: true,
    done: () => ({ grads, loss, weight, finite: plan.finite, overflow: false }),
  };
  return plan;
}

/** Elements [from, to) of one tensor: zero, add every part but the last, then the last (dividing, checking). */
function reduceRange(t: TensorReduction, weight: number, from: number, to: number): boolean {
  const { acc, parts } = t;
  acc.fill(0, from, to);
  if (parts.length === 0) return true;
  for (let j = 0; j < parts.length - 1; j++) addInto(acc, parts[j]!, from, to);
  const last = parts[parts.length - 1]!;
  return weight > 0 ? addDivideInto(acc, last, weight, from, to) : addIntoChecked(acc, last, from, to);
}

function fits(into: Map<string, Float32Array> | undefined, shapes: ReadonlyMap<string, readonly number[]>): into is Map<string, Float32Array> {
  if (!into || into.size !== shapes.size) return false;
  for (const [k, s] of shapes) if (into.get(k)?.length !== s.reduce((a, b) => a * b, 1)) return false;
  return true;
}

// Kept as small monomorphic functions: V8 compiles each to a tight loop. `z += v * 0` stays 0 for
// finite v and becomes NaN as soon as one v is NaN or infinite: a check without a branch per element.
function addInto(acc: Float32Array, g: Float32Array, from: number, to: number): void {
  for (let i = from; i < to; i++) acc[i] = acc[i]! + g[i]!;
}

function addDivideInto(acc: Float32Array, g: Float32Array, d: number, from: number, to: number): boolean {
  let z = 0;
  for (let i = from; i < to; i++) {
    const v = Math.fround(Math.fround(acc[i]! + g[i]!) / d);
    acc[i] = v;
    z += v * 0;
  }
  return z === 0;
}

function addIntoChecked(acc: Float32Array, g: Float32Array, from: number, to: number): boolean {
  let z = 0;
  for (let i = from; i < to; i++) {
    const v = Math.fround(acc[i]! + g[i]!);
    acc[i] = v;
    z += v * 0;
  }
  return z === 0;
}
