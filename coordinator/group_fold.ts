// The first level of the reduction: one host group's step results added into one, in order, from
// zero, in float32: exactly the additions the coordinator's reduction (reduce.ts) makes for those
// results when they come first. An aggregator (aggregator/group_compute.ts) folds its workers'
// results with this before sending one partial; the coordinator folds directly connected workers of
// one group with it too, so a step's arithmetic is the same tree whether or not an aggregator did
// the first level: grouped and ungrouped runs of the same groups end with the same weights hash.

import type { StepResult } from '../shared/contract/worker_endpoint.js';

/**
 * Adds `results` (in order) into one result; the weight and loss sums are added in the same order
 * from 0. `into`, when its arrays fit the results' gradients, receives the sums (overwritten: an
 * aggregator reuses them from step to step); otherwise new arrays are allocated.
 */
export function foldResults(results: readonly StepResult[], into?: Map<string, Float32Array>): StepResult {
  const first = results[0];
  if (!first) throw new Error('foldResults: no result to fold');
  // An fp16 overflow anywhere in the group: the step is skipped for everyone, nothing to add.
  if (results.some((r) => r.overflow)) {
    return { ...mergedFields(results), grads: new Map(), weightSum: sum(results, (r) => r.weightSum), lossSum: sum(results, (r) => r.lossSum), overflow: true };
  }
  const fits = into !== undefined && into.size === first.grads.size && [...first.grads].every(([k, g]) => into.get(k)?.length === g.length);
  const grads = fits ? into : new Map<string, Float32Array>();
  if (fits) for (const acc of grads.values()) acc.fill(0);
  else for (const [k, g] of first.grads) grads.set(k, new Float32Array(g.length));
  let weightSum = 0;
  let lossSum = 0;
  for (const r of results) {
    if (r.step !== first.step) throw new Error(`foldResults: a result of step ${r.step} among results of step ${first.step}`);
    if (r.grads.size !== grads.size) throw new Error(`foldResults: a result has ${r.grads.size} gradients, expected ${grads.size}`);
    for (const [k, acc] of grads) {
      const g = r.grads.get(k);
      if (!g) throw new Error(`foldResults: a result has no gradient for ${k}`);
      if (g.length !== acc.length) throw new Error(`foldResults: gradient ${k} has ${g.length} values, expected ${acc.length}`);
      addInto(acc, g);
    }
    weightSum += r.weightSum;
    lossSum += r.lossSum;
  }
  return { ...mergedFields(results), grads, weightSum, lossSum };
}

/** What a group's result says besides its sums: its samples, pace, memory, weights and size. */
function mergedFields(results: readonly StepResult[]): Omit<StepResult, 'grads' | 'weightSum' | 'lossSum'> {
  const first = results[0]!;
  const rss = results.map((r) => r.peakRssBytes).filter((b): b is number => b !== undefined);
  const hashes = new Set(results.map((r) => r.weightsHash));
  return {
    step: first.step,
    samples: results.flatMap((r) => r.samples),
    failed: results.flatMap((r) => r.failed),
    // The group computes in parallel: its rate is the sum of its members' rates.
    computeSeconds: groupSeconds(results),
    ...(rss.length ? { peakRssBytes: Math.max(...rss) } : {}),
    ...(hashes.size === 1 && first.weightsHash !== undefined ? { weightsHash: first.weightsHash } : {}),
    workers: results.reduce((a, r) => a + (r.workers ?? 1), 0),
  };
}

function sum(results: readonly StepResult[], of: (r: StepResult) => number): number {
  return results.reduce((a, r) => a + of(r), 0);
}

/**
 * The results as the reduction must add them: each group's folded into one (groups in order of first
 * appearance, each group's results in their order). The first group's results, and a group's single
 * result, pass through as they are: the reduction adds them from zero in that order, which is the
 * fold itself (so one host's workers cost no extra pass).
 */
export function foldByGroup(results: readonly StepResult[], groupOf: (r: StepResult) => string): StepResult[] {
  // An overflow skips the step: the reduction says so without adding anything.
  if (results.some((r) => r.overflow)) return [...results];
  const groups = new Map<string, StepResult[]>();
  for (const r of results) {
    const g = groupOf(r);
    const list = groups.get(g);
    if (list) list.push(r);
    else groups.set(g, [r]);
  }
  const [first = [], ...rest] = [...groups.values()];
  return [...first, ...rest.map((list) => (list.length === 1 ? list[0]! : foldResults(list)))];
}

/** Endpoints in group order (stable: within a group, and without groups, the order stays). */
export function inGroupOrder<T extends { placement?: { group?: string } }>(endpoints: readonly T[]): T[] {
  return endpoints
    .map((e, i) => [e, i] as const)
    .sort(([a, i], [b, j]) => {
      const ga = a.placement?.group ?? '';
      const gb = b.placement?.group ?? '';
      return ga < gb ? -1 : ga > gb ? 1 : i - j;
    })
    .map(([e]) => e);
}

/** Seconds for the group's samples at the sum of its members' rates (a member without a rate: the slowest's time). */
function groupSeconds(results: readonly StepResult[]): number {
  let samples = 0;
  let rate = 0;
  let slowest = 0;
  for (const r of results) {
    samples += r.samples.length;
    slowest = Math.max(slowest, r.computeSeconds);
    if (r.samples.length > 0 && r.computeSeconds > 0) rate += r.samples.length / r.computeSeconds;
  }
  return rate > 0 ? samples / rate : slowest;
}

function addInto(acc: Float32Array, g: Float32Array): void {
  for (let i = 0; i < acc.length; i++) acc[i] = acc[i]! + g[i]!;
}
