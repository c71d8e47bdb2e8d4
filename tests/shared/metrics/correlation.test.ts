import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pearson } from '../../../shared/metrics/correlation.js';

describe('pearson', () => {
  it('is 1 for a rising line, -1 for a falling one, and a known value in between', () => {
    assert.ok(Math.abs(pearson([1, 2, 3, 4], [2, 4, 6, 8]) - 1) < 1e-12);
    assert.ok(Math.abs(pearson([1, 2, 3, 4], [8, 6, 4, 2]) + 1) < 1e-12);
    // numpy.corrcoef([1, 2, 3, 4, 5], [2, 1, 4, 3, 5])[0, 1] = 0.8
    assert.ok(Math.abs(pearson([1, 2, 3, 4, 5], [2, 1, 4, 3, 5]) - 0.8) < 1e-12);
  });

  it('is NaN where undefined (one pair, a constant series) and refuses unequal lengths', () => {
    assert.ok(Number.isNaN(pearson([1], [2])));
    assert.ok(Number.isNaN(pearson([1, 2, 3], [5, 5, 5])));
    assert.throws(() => pearson([1, 2], [1]), /2 and 1 values/);
  });
});
