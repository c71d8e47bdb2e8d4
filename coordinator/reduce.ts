// Gradient reduction: the workers' gradient sums added in a fixed (worker) order, then divided by
// the step's total sample weight, so the result is the batch-mean gradient whatever the split.
//
// This runs once per step over every worker's gradients, so it is written to touch memory as
// little as possible: the result arrays are reused from step to step (`into`), and the division
// and the finiteness check ride along with the last worker's addition instead of taking passes of
// their own. The arithmetic (0 + g0 + g1 + ... then / weight, in float32) is the same as adding
// into zeros and dividing afterwards, to the bit.

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
 * result (it is overwritten); otherwise new arrays are allocated.
 */
export function reduceResults(results: readonly StepResult[], shapes: ReadonlyMap<string, readonly number[]>, into?: Map<string, Float32Array>): Reduced {
  const grads = fits(into, shapes) ? into : new Map([...shapes].map(([k, s]) => [k, new Float32Array(s.reduce((a, b) => a * b, 1))]));
  let weight = 0;
  let lossSum = 0;
  for (const r of results) {
    weight += r.weightSum;
    lossSum += r.lossSum;
  }
  const loss = weight > 0 ? lossSum / weight : Number.NaN;
  // An overflow skips the step for everyone: the other workers' gradients are not needed.
  if (results.some((r) => r.overflow)) return { grads, loss, weight, finite: false, overflow: true };
  let finite = true;
  for (const [k, acc] of grads) {
    const parts = results.map((r) => {
      const g = r.grads.get(k);
      if (!g) throw new Error(`reduce: a worker returned no gradient for ${k}`);
      if (g.length !== acc.length) throw new Error(`reduce: gradient ${k} has ${g.length} values, expected ${acc.length}`);
      return g;
    });
    acc.fill(0);
    if (parts.length === 0) continue;
    for (let j = 0; j < parts.length - 1; j++) addInto(acc, parts[j]!);
    const last = parts[parts.length - 1]!;
    finite = (weight > 0 ? addDivideInto(acc, last, weight) : addIntoChecked(acc, last)) && finite;
  }
  return { grads, loss, weight, finite, overflow: false };
}

function fits(into: Map<string, Float32Array> | undefined, shapes: ReadonlyMap<string, readonly number[]>): into is Map<string, Float32Array> {
  if (!into || into.size !== shapes.size) return false;
  for (const [k, s] of shapes) if (into.get(k)?.length !== s.reduce((a, b) => a * b, 1)) return false;
  return true;
}

// Kept as small monomorphic functions: V8 compiles each to a tight loop. `z += v * 0` stays 0 for
// finite v and becomes NaN as soon as one v is NaN or infinite: a check without a branch per element.
function addInto(acc: Float32Array, g: Float32Array): void {
  for (let i = 0; i < acc.length; i++) acc[i] = acc[i]! + g[i]!;
}

function addDivideInto(acc: Float32Array, g: Float32Array, d: number): boolean {
  let z = 0;
  for (let i = 0; i < acc.length; i++) {
    const v = Math.fround(Math.fround(acc[i]! + g[i]!) / d);
    acc[i] = v;
    z += v * 0;
  }
  return z === 0;
}

function addIntoChecked(acc: Float32Array, g: Float32Array): boolean {
  let z = 0;
  for (let i = 0; i < acc.length; i++) {
    const v = Math.fround(acc[i]! + g[i]!);
    acc[i] = v;
    z += v * 0;
  }
  return z === 0;
}
