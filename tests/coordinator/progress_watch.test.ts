// ProgressWatch: healthy while steps come or while the run waits for workers; a stall past the
// limit is unhealthy until the next step.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ProgressWatch } from '../../coordinator/progress_watch.js';
import { RunEvents } from '../../coordinator/run_events.js';

test('a stall past the limit is unhealthy; waiting for workers is not a stall; a step heals it', () => {
  let now = 0;
  const events = new RunEvents();
  const watch = new ProgressWatch(events, 1000, () => now);
  now = 900;
  assert.equal(watch.healthy, true);
  now = 1500;
  assert.equal(watch.healthy, false, 'no step for 1.5 s');
  events.emit({ kind: 'step', step: 1, epoch: 1, images: 2, loss: 1, lr: 1e-3, skipped: false, timing: { stepSeconds: 1, reduceSeconds: 0, waitForSlowestSeconds: 0, workers: [] } });
  assert.equal(watch.healthy, true);
  events.emit({ kind: 'waiting_for_workers', live: 0, needed: 1 });
  now = 100_000;
  assert.equal(watch.healthy, true, 'waiting for workers');
  assert.equal(watch.stalledMs(), 0);
  events.emit({ kind: 'worker_joined', id: 'w', host: 'h', device: 'cpu' });
  now = 100_500;
  assert.equal(watch.healthy, true);
  now = 101_500;
  assert.equal(watch.healthy, false, 'a join restarts the clock, and the steps must follow');
});
