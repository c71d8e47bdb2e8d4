// Full-jitter backoff: waits are spread over [0, bound), the bound doubles up to the cap.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BACKOFF_BASE_MS, BACKOFF_CAP_MS, backoffDelay } from '../../worker/reconnect_backoff.js';

test('the bound doubles per attempt up to the cap; the wait is the bound times a uniform draw', () => {
  const almostOne = (): number => 0.999999;
  assert.equal(backoffDelay(0, () => 0), 0);
  assert.equal(backoffDelay(0, () => 0.5), BACKOFF_BASE_MS / 2);
  assert.equal(backoffDelay(0, almostOne), BACKOFF_BASE_MS - 1);
  assert.equal(backoffDelay(2, almostOne), 4 * BACKOFF_BASE_MS - 1);
  assert.equal(backoffDelay(50, almostOne), BACKOFF_CAP_MS - 1);
});

test('a fleet that lost its coordinator at once comes back spread out, not in a herd', () => {
  const waits = Array.from({ length: 64 }, () => backoffDelay(3));
  const bound = 8 * BACKOFF_BASE_MS;
  assert.ok(waits.every((w) => w >= 0 && w < bound));
  // 64 uniform draws over 4 s: far more than a handful of distinct 100 ms slots.
  assert.ok(new Set(waits.map((w) => Math.floor(w / 100))).size > 16, waits.join(' '));
});
