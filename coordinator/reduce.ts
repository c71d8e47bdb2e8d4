// Gradient reduction: the workers' gradient sums added in a fixed (worker) order, then divided by
// the step's total sample weight, so the result is the batch-mean gradient whatever the split.

import type { StepResult } from './transport.js';

export interface Reduced {
  grads: Map<string, Float32Array>;
  loss: number;
  weight: number;
}

export function reduceResults(results: readonly StepResult[], shapes: ReadonlyMap<string, readonly number[]>): Reduced {
  const grads = new Map([...shapes].map(([k, s]) => [k, new Float32Array(s.reduce((a, b) => a * b, 1))]));
  let weight = 0;
  let lossSum = 0;
  for (const r of results) {
    weight += r.weightSum;
    lossSum += r.lossSum;
    for (const [k, acc] of grads) {
      const g = r.grads.get(k);
      if (!g) throw new Error(`reduce: a worker returned no gradient for ${k}`);
      if (g.length !== acc.length) throw new Error(`reduce: gradient ${k} has ${g.length} values, expected ${acc.length}`);
      addInto(acc, g);
    }
  }
  if (weight > 0) for (const g of grads.values()) divideInPlace(g, weight);
  return { grads, loss: weight > 0 ? lossSum / weight : Number.NaN, weight };
}

// Kept as small monomorphic functions: V8 compiles each to a tight loop.
function addInto(acc: Float32Array, g: Float32Array): void {
  for (let i = 0; i < acc.length; i++) acc[i] = acc[i]! + g[i]!;
}

function divideInPlace(g: Float32Array, d: number): void {
  for (let i = 0; i < g.length; i++) g[i] = g[i]! / d;
}
