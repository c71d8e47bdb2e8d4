import assert from 'node:assert/strict';
import { test } from 'node:test';
import { reduceResults, reduceResultsSliced } from '../../coordinator/reduce.js';
import type { StepResult } from '../../shared/contract/worker_endpoint.js';

const shapes = new Map<string, readonly number[]>([
  ['a', [3, 5]],
  ['b', [7]],
]);

function result(seed: number, weightSum: number, scale = 1): StepResult {
  const grads = new Map([...shapes].map(([k, s]) => [k, Float32Array.from({ length: s.reduce((x, y) => x * y, 1) }, (_, i) => Math.sin(seed * 7.3 + i * 1.7) * scale)]));
  return { step: 0, grads, weightSum, lossSum: weightSum * 0.25, samples: [], failed: [], computeSeconds: 0 };
}

/** The plain definition: add into float32 zeros in result order, then divide. */
function reference(results: StepResult[]): Map<string, Float32Array> {
  const weight = results.reduce((a, r) => a + r.weightSum, 0);
  return new Map(
    [...shapes].map(([k, s]) => {
      const acc = new Float32Array(s.reduce((x, y) => x * y, 1));
      for (const r of results) for (let i = 0; i < acc.length; i++) acc[i] = acc[i]! + r.grads.get(k)![i]!;
      if (weight > 0) for (let i = 0; i < acc.length; i++) acc[i] = acc[i]! / weight;
      return [k, acc];
    }),
  );
}

test('reduction equals adding in worker order and dividing afterwards, to the bit, for 1 to 5 workers', () => {
  for (let n = 1; n <= 5; n++) {
    const results = Array.from({ length: n }, (_, j) => result(j + 1, 0.5 + j, 1e3));
    const out = reduceResults(results, shapes);
    const want = reference(results);
    for (const [k, w] of want) assert.deepEqual(out.grads.get(k), w, `${n} workers, ${k}`);
    assert.equal(out.finite, true);
    assert.equal(out.weight, results.reduce((a, r) => a + r.weightSum, 0));
  }
});

test('reduction writes into the given arrays and overwrites what they held', () => {
  const into = new Map([...shapes].map(([k, s]) => [k, new Float32Array(s.reduce((x, y) => x * y, 1)).fill(99)]));
  const results = [result(1, 1), result(2, 3)];
  const out = reduceResults(results, shapes, into);
  assert.equal(out.grads, into);
  for (const [k, w] of reference(results)) assert.deepEqual(into.get(k), w);
  // Arrays of the wrong size are not used.
  const wrong = new Map([['a', new Float32Array(2)], ['b', new Float32Array(7)]]);
  assert.notEqual(reduceResults(results, shapes, wrong).grads, wrong);
});

test('reduction reports non-finite gradients: NaN, infinity, and float32 overflow of the mean', () => {
  const nan = result(1, 1);
  nan.grads.get('b')![3] = Number.NaN;
  assert.equal(reduceResults([result(2, 1), nan], shapes).finite, false);
  const inf = result(1, 1);
  inf.grads.get('a')![0] = -Infinity;
  assert.equal(reduceResults([inf, result(2, 1)], shapes).finite, false, 'a non-finite value in a worker other than the last');
  // Finite sums whose mean overflows float32 (weight below 1).
  const big = result(1, 0.25);
  big.grads.get('a')!.fill(3e38);
  assert.equal(reduceResults([big], shapes).finite, false);
  // No weight: sums only, still checked.
  const zero = result(1, 0);
  zero.grads.get('b')![0] = Number.POSITIVE_INFINITY;
  const out = reduceResults([zero], shapes);
  assert.equal(out.finite, false);
  assert.ok(Number.isNaN(out.loss));
});

test('the sliced reduction equals the one-pass one to the bit, and lets the event loop run between slices', async () => {
  // Slices are at least 1024 values per worker: 'c' takes three of them, 'a' and 'b' share one.
  const big = new Map<string, readonly number[]>([['c', [3000]], ...shapes]);
  for (const n of [1, 3, 5]) {
    const results = Array.from({ length: n }, (_, j) => {
      const r = result(j + 1, 0.5 + j, 1e3);
      r.grads.set('c', Float32Array.from({ length: 3000 }, (_, i) => Math.cos(i * (j + 1)) * 1e3));
      return r;
    });
    const one = reduceResults(results, big);
    let ranMeanwhile = false;
    setImmediate(() => (ranMeanwhile = true));
    const sliced = await reduceResultsSliced(results, big, undefined, 1);
    // Without a yield the promise would settle on microtasks alone, before any setImmediate callback.
    assert.ok(ranMeanwhile, `${n} workers: other callbacks ran while the reduction was under way`);
    for (const [k, g] of one.grads) assert.deepEqual(sliced.grads.get(k), g, `${n} workers, ${k}`);
    assert.equal(sliced.finite, one.finite);
    assert.equal(sliced.loss, one.loss);
    assert.equal(sliced.weight, one.weight);
  }
  const nan = result(1, 1);
  nan.grads.get('b')![3] = Number.NaN;
  assert.equal((await reduceResultsSliced([result(2, 1), nan], shapes, undefined, 1)).finite, false);
});
