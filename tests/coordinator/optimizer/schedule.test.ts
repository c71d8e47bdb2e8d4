import assert from 'node:assert/strict';
import { test } from 'node:test';
import { learningRate } from '../../../coordinator/optimizer/schedule.js';

test('warm-up rises linearly to the base rate, then cosine decays to min_lr', () => {
  const o = { baseLr: 1e-3, warmupSteps: 4, totalSteps: 14, cosine: true, minLr: 1e-5 };
  assert.deepEqual([0, 1, 2, 3].map((s) => learningRate(o, s)), [2.5e-4, 5e-4, 7.5e-4, 1e-3]);
  assert.equal(learningRate(o, 4), 1e-3);
  assert.ok(Math.abs(learningRate(o, 9) - (1e-5 + 0.5 * (1e-3 - 1e-5))) < 1e-12, 'half way is the midpoint');
  assert.equal(learningRate(o, 14), 1e-5);
  assert.equal(learningRate(o, 100), 1e-5, 'clamped after the end');
});

test('without cosine the rate stays at the base after warm-up', () => {
  const o = { baseLr: 1e-4, warmupSteps: 0, totalSteps: 10, cosine: false, minLr: 0 };
  assert.equal(learningRate(o, 0), 1e-4);
  assert.equal(learningRate(o, 9), 1e-4);
});
