// Shares in proportion to measured throughput.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ThroughputTable, planShares } from '../../coordinator/share_plan.js';

test('planShares: proportional, summing to n, equal when the weights are', () => {
  assert.deepEqual(planShares(8, [1, 1]), [4, 4]);
  assert.deepEqual(planShares(9, [2, 1]), [6, 3]);
  assert.deepEqual(planShares(2, [10, 1]), [1, 1], 'each keeps at least one sample, so it is measured again');
  assert.deepEqual(planShares(12, [100, 1]), [11, 1]);
  assert.deepEqual(planShares(7, [1, 1, 1]), [3, 2, 2]);
  assert.deepEqual(planShares(2, [1, 1, 1]), [1, 1, 0]);
  assert.deepEqual(planShares(5, [0, 0]), [3, 2]);
  assert.deepEqual(planShares(0, [1, 2]), [0, 0]);
  for (let n = 0; n < 40; n++) assert.equal(planShares(n, [0.3, 1.7, 1, 0.01]).reduce((a, b) => a + b, 0), n);
});

test('ThroughputTable: a worker half as fast gets a third of the samples; an unmeasured one the mean', () => {
  const t = new ThroughputTable();
  t.record('fast', 4, 1);
  t.record('slow', 4, 2);
  assert.deepEqual(planShares(14, t.weights(['fast', 'slow'])), [9, 5]);
  assert.deepEqual(t.weights(['fast', 'new']), [4, 4]);
  t.record('slow', 4, 0); // no measurement
  assert.deepEqual(t.weights(['slow']), [2]);
});

test("ThroughputTable with skipFirst: a worker's first observation (its warm-up) is not counted", () => {
  const t = new ThroughputTable({ skipFirst: true });
  t.record('w', 1, 10);
  assert.equal(t.expectedSeconds('w', 1), undefined);
  t.record('w', 2, 1);
  assert.equal(t.expectedSeconds('w', 4), 2);
});

test('planShares: an endpoint carrying a group gets one sample per worker first, when there are enough', () => {
  // 2 aggregators of 4 workers, one 3x faster: still 4 each for a step of 8 (as 8 direct workers get 1 each).
  assert.deepEqual(planShares(8, [3, 1], [4, 4]), [4, 4]);
  assert.deepEqual(planShares(8, [3, 1]), [6, 2], 'without the group sizes: by throughput');
  // The rest goes by throughput; too few samples for all workers: one per endpoint first, as before.
  assert.deepEqual(planShares(12, [3, 1], [4, 4]), [7, 5]);
  assert.deepEqual(planShares(5, [1, 1], [4, 4]), [3, 2]);
  assert.deepEqual(planShares(6, [1, 1, 1], [2, 1, 1]), [3, 2, 1]);
  for (let n = 0; n < 40; n++) assert.equal(planShares(n, [0.3, 1.7, 1], [5, 1, 3]).reduce((a, b) => a + b, 0), n);
});
