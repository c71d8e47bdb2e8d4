// Per-step coordinator traffic: the bytes between two step events are the later step's, each step
// starts from zero, and the gradient-sum time is observed only when the trainer measured it.

import assert from 'node:assert/strict';
import { it } from 'node:test';
import { createRunMetrics } from '../../../coordinator/metrics/run_metrics.js';
import { type RunEvent, RunEvents } from '../../../coordinator/run_events.js';
import { parseExposition } from '../../../shared/prometheus/exposition.js';
import { lintMetrics } from '../../../shared/prometheus/name_lint.js';
import { valueOf } from '../../helpers/scrape.js';

function step(n: number, gradientSumSeconds?: number): RunEvent {
  const timing = { stepSeconds: 1, reduceSeconds: 0.02, waitForSlowestSeconds: 0, workers: [], ...(gradientSumSeconds !== undefined ? { gradientSumSeconds } : {}) };
  return { kind: 'step', step: n, epoch: 0, images: 2, loss: 0.5, lr: 1e-4, skipped: false, timing };
}

it('counts the tensor bytes of each step, in and out, and times the gradient sum', async () => {
  const events = new RunEvents();
  const m = createRunMetrics(events, { processMetrics: false });
  const bytes = (direction: 'sent' | 'received', n: number, workerId = 'w-1'): void => events.emit({ kind: 'tensor_bytes', direction, workerId, bytes: n });
  bytes('sent', 400);
  bytes('sent', 400, 'w-2');
  bytes('received', 1000);
  bytes('received', 24, 'w-2');
  events.emit(step(1, 0.003));
  let f = parseExposition(await m.registry.metrics());
  assert.deepEqual(lintMetrics(f), []);
  assert.equal(valueOf(f, 'samlora_coordinator_step_received_bytes'), 1024);
  assert.equal(valueOf(f, 'samlora_coordinator_step_sent_bytes'), 800);
  assert.equal(valueOf(f, 'samlora_gradient_sum_seconds_count'), 1);
  assert.equal(valueOf(f, 'samlora_gradient_sum_seconds_sum'), 0.003);
  // The next step starts from zero: only its own bytes; no gradient-sum time when none was measured.
  bytes('received', 7);
  events.emit(step(2));
  f = parseExposition(await m.registry.metrics());
  assert.equal(valueOf(f, 'samlora_coordinator_step_received_bytes'), 7);
  assert.equal(valueOf(f, 'samlora_coordinator_step_sent_bytes'), 0);
  assert.equal(valueOf(f, 'samlora_gradient_sum_seconds_count'), 1);
  m.detach();
});
