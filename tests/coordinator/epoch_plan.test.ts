import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EpochLedger, epochOrder } from '../../coordinator/epoch_plan.js';
import { reduceResults } from '../../coordinator/reduce.js';
import type { StepResult } from '../../shared/contract/worker_endpoint.js';

test('the epoch order is a seeded permutation: the same for the same (seed, epoch), different otherwise', () => {
  const ids = Array.from({ length: 20 }, (_, i) => `img${i}.png`);
  const a = epochOrder(ids, 7, 0);
  assert.deepEqual(a, epochOrder(ids, 7, 0));
  assert.deepEqual([...a].sort(), [...ids].sort());
  assert.notDeepEqual(a, epochOrder(ids, 7, 1));
  assert.notDeepEqual(a, epochOrder(ids, 8, 0));
});

test('the ledger counts trained, duplicated, missing and failed samples', () => {
  const ledger = new EpochLedger(2, ['a', 'b', 'c', 'd']);
  ledger.record('a');
  ledger.record('b');
  ledger.record('b');
  ledger.recordFailed('c');
  assert.deepEqual(ledger.account(), { epoch: 3, samples_trained: 3, duplicates: 1, missing: 1, failed: 1 });
});

test('reduction adds the workers\' gradient sums and divides by the total sample weight', () => {
  const shapes = new Map([['g', [2] as const]]);
  const r = (grad: number[], weightSum: number, lossSum: number): StepResult => ({
    step: 0,
    grads: new Map([['g', Float32Array.from(grad)]]),
    weightSum,
    lossSum,
    samples: [],
    failed: [],
    computeSeconds: 0,
  });
  const out = reduceResults([r([1, 2], 1, 0.5), r([3, 6], 3, 1.5)], shapes);
  assert.deepEqual([...out.grads.get('g')!], [1, 2]);
  assert.equal(out.loss, 0.5);
  assert.equal(out.weight, 4);
  assert.throws(() => reduceResults([{ ...r([1, 2], 1, 0), grads: new Map() }], shapes), /no gradient for g/);
});
