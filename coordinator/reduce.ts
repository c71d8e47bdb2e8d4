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
      for (let i = 0; i < g.length; i++) acc[i] = acc[i]! + g[i]!;
    }
  }
  if (weight > 0) for (const g of grads.values()) for (let i = 0; i < g.length; i++) g[i] = g[i]! / weight;
  return { grads, loss: weight > 0 ? lossSum / weight : Number.NaN, weight };
}
