// The coordinator's metrics fed a scripted event stream with a fake clock: each collector's
// arithmetic, bounded labels, scrape-time gauges, and a lint-clean exposition.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createRunMetrics } from '../../../coordinator/metrics/run_metrics.js';
import { OVERFLOW_WORKER_LABEL } from '../../../coordinator/metrics/worker_label.js';
import { type RunEvent, RunEvents, type RunInfo } from '../../../coordinator/run_events.js';
import { parseExposition } from '../../../shared/prometheus/exposition.js';
import { lintMetrics } from '../../../shared/prometheus/name_lint.js';
import { promtool, promtoolOrSkip } from '../../helpers/promtool.js';
import { valueOf } from '../../helpers/scrape.js';

const INFO: RunInfo = { runId: 'run-1', variant: 'vit_b', checkpoint: null, rank: 8, device: 'cuda', epochs: 2, stepsPerEpoch: 3, totalSteps: 6, batchSize: 2, startStep: 0, lr: 1e-4 };

function step(n: number, o: { loss?: number; skipped?: boolean; images?: number; seconds?: number; workers?: string[] } = {}): RunEvent {
  const workers = o.workers ?? ['w-1'];
  return {
    kind: 'step',
    step: n,
    epoch: 1,
    images: o.images ?? 2,
    loss: o.loss ?? 0.5,
    lr: 1e-4,
    skipped: o.skipped ?? false,
    timing: {
      stepSeconds: o.seconds ?? 2,
      reduceSeconds: 0.01,
      waitForSlowestSeconds: 0.3,
      workers: workers.map((w, i) => ({ workerId: w, samples: 1, computeSeconds: 1.5, answeredAfterSeconds: 1.6, loss: 0.5, peakRssBytes: (i + 1) * 2 ** 30 })),
    },
  };
}

async function families(m: ReturnType<typeof createRunMetrics>): Promise<ReturnType<typeof parseExposition>> {
  return parseExposition(await m.registry.metrics());
}

describe('coordinator metrics', () => {
  it('count progress, time steps, follow membership and serve scrape-time gauges', async () => {
    let now = 1000;
    const events = new RunEvents();
    const m = createRunMetrics(events, { requiredWorkers: 2, now: () => now, processMetrics: false });
    let f = await families(m);
    assert.equal(valueOf(f, 'samlora_workers', { state: 'missing' }), 2, 'no worker yet');
    assert.equal(valueOf(f, 'samlora_waiting_for_workers'), 1);
    assert.equal(valueOf(f, 'samlora_workers_required'), 2);

    events.emit({ kind: 'worker_joined', id: 'w-1', host: 'h', device: 'cpu' });
    events.emit({ kind: 'worker_joined', id: 'w-2', host: 'h', device: 'cpu' });
    now += 5;
    events.emit({ kind: 'run_started', info: INFO });
    events.emit({ kind: 'eval', step: 0, epoch: 0, dice: 0.2, iou: 0.1, best: false, phase: 'before' });
    now += 30;
    events.emit(step(1, { workers: ['w-1', 'w-2'] }));
    now += 2;
    events.emit(step(2, { loss: Number.NaN, skipped: true }));
    events.emit({ kind: 'tensor_bytes', direction: 'received', workerId: 'w-1', bytes: 1000 });
    events.emit({ kind: 'tensor_bytes', direction: 'sent', workerId: 'w-2', bytes: 400 });
    events.emit({ kind: 'tensor_bytes', direction: 'sent', workerId: 'w-2', bytes: 100 });
    now += 2;
    events.emit({ kind: 'checkpoint', step: 2, dir: '/x', name: 'step-00000002' });
    events.emit({ kind: 'epoch_done', epoch: 1 });
    events.emit({ kind: 'eval', step: 2, epoch: 1, dice: 0.6, iou: 0.45, best: true, phase: 'during' });
    events.emit({ kind: 'message_rejected', workerId: null, reason: 'no token', cause: 'unauthenticated' });
    events.emit({ kind: 'message_rejected', workerId: 'w-2', reason: 'NaN gradient', cause: 'invalid' });
    events.emit({ kind: 'message_rejected', workerId: null, reason: 'old protocol' });
    events.emit({ kind: 'worker_evicted', id: 'w-2', reason: 'NaN gradient' });
    now += 10;

    f = await families(m);
    assert.deepEqual(lintMetrics(f), []);
    assert.deepEqual(
      f.find((x) => x.name === 'samlora_run_info')!.samples.map((s) => s.labels),
      [{ run_id: 'run-1', variant: 'vit_b', device: 'cuda', rank: '8' }],
    );
    assert.equal(valueOf(f, 'samlora_steps_total'), 2);
    assert.equal(valueOf(f, 'samlora_samples_total'), 4);
    assert.equal(valueOf(f, 'samlora_skipped_steps_total'), 1);
    assert.equal(valueOf(f, 'samlora_epochs_total'), 1);
    assert.equal(valueOf(f, 'samlora_step'), 2);
    assert.equal(valueOf(f, 'samlora_steps_planned'), 6);
    assert.ok(Number.isNaN(valueOf(f, 'samlora_loss')));
    assert.equal(valueOf(f, 'samlora_loss_finite'), 0);
    assert.equal(valueOf(f, 'samlora_learning_rate'), 1e-4);
    assert.equal(valueOf(f, 'samlora_step_duration_seconds_count'), 2);
    assert.equal(valueOf(f, 'samlora_step_duration_seconds_sum'), 4);
    assert.equal(valueOf(f, 'samlora_step_duration_seconds_bucket', { le: '1' }), 0);
    assert.equal(valueOf(f, 'samlora_step_duration_seconds_bucket', { le: '2.5' }), 2);
    assert.equal(valueOf(f, 'samlora_worker_compute_seconds_count', { worker: 'w-1' }), 2);
    assert.equal(valueOf(f, 'samlora_worker_compute_seconds_count', { worker: 'w-2' }), 1);
    assert.equal(valueOf(f, 'samlora_worker_peak_rss_bytes', { worker: 'w-1' }), 2 ** 30);
    assert.equal(valueOf(f, 'samlora_worker_peak_rss_bytes', { worker: 'w-2' }), 2 * 2 ** 30);
    assert.equal(valueOf(f, 'samlora_reduce_duration_seconds_count'), 2);
    assert.equal(valueOf(f, 'samlora_wait_for_slowest_seconds_sum'), 0.6);
    // Each step: 2 s in all, the slowest worker computed 1.5 s.
    assert.equal(valueOf(f, 'samlora_step_overhead_seconds_count'), 2);
    assert.equal(valueOf(f, 'samlora_step_overhead_seconds_sum'), 1);
    // 4 images in the steps that ended in the last 60 s, over the 16 s since the first step began.
    assert.equal(valueOf(f, 'samlora_images_per_second'), 4 / 16);
    assert.equal(valueOf(f, 'samlora_checkpoint_age_seconds'), 10);
    assert.equal(valueOf(f, 'samlora_checkpoint_step'), 2);
    assert.equal(valueOf(f, 'samlora_checkpoints_total'), 1);
    assert.equal(valueOf(f, 'samlora_eval_dice_ratio'), 0.6);
    assert.equal(valueOf(f, 'samlora_eval_iou_ratio'), 0.45);
    assert.equal(valueOf(f, 'samlora_eval_best_dice_ratio'), 0.6);
    assert.equal(valueOf(f, 'samlora_evals_total'), 2);
    assert.equal(valueOf(f, 'samlora_gradients_received_bytes_total', { worker: 'w-1' }), 1000);
    assert.equal(valueOf(f, 'samlora_weights_sent_bytes_total', { worker: 'w-2' }), 500);
    assert.equal(valueOf(f, 'samlora_rejected_messages_total', { cause: 'unauthenticated' }), 1);
    assert.equal(valueOf(f, 'samlora_rejected_messages_total', { cause: 'invalid' }), 1);
    assert.equal(valueOf(f, 'samlora_rejected_messages_total', { cause: 'refused' }), 1);
    assert.equal(valueOf(f, 'samlora_workers', { state: 'live' }), 1);
    assert.equal(valueOf(f, 'samlora_workers', { state: 'missing' }), 1);
    assert.equal(valueOf(f, 'samlora_workers', { state: 'evicted' }), 1);
    assert.equal(valueOf(f, 'samlora_worker_evictions_total'), 1);
    assert.equal(valueOf(f, 'samlora_worker_joins_total'), 2);
    assert.equal(valueOf(f, 'samlora_waiting_for_workers'), 1);

    // A stalled run: the window empties, throughput reads 0, the checkpoint keeps ageing.
    now += 120;
    f = await families(m);
    assert.equal(valueOf(f, 'samlora_images_per_second'), 0);
    assert.equal(valueOf(f, 'samlora_checkpoint_age_seconds'), 130);
    // 'best' is not a point to resume from.
    events.emit({ kind: 'checkpoint', step: 2, dir: '/b', name: 'best' });
    assert.equal(valueOf(await families(m), 'samlora_checkpoint_age_seconds'), 130);

    m.detach();
    events.emit(step(3));
    assert.equal(valueOf(await families(m), 'samlora_steps_total'), 2, 'detached metrics stop following');
  });

  it('workers leaving after the run ended are not evictions', async () => {
    const events = new RunEvents();
    const m = createRunMetrics(events, { requiredWorkers: 1, processMetrics: false });
    events.emit({ kind: 'worker_joined', id: 'w-1', host: 'h', device: 'cpu' });
    events.emit({ kind: 'run_started', info: INFO });
    events.emit({ kind: 'run_ended', status: 'completed' });
    events.emit({ kind: 'worker_evicted', id: 'w-1', reason: 'the run is over' });
    const f = await families(m);
    assert.equal(valueOf(f, 'samlora_worker_evictions_total'), 0);
    assert.equal(valueOf(f, 'samlora_workers', { state: 'evicted' }), 0);
    assert.equal(valueOf(f, 'samlora_workers', { state: 'live' }), 0);
  });

  it('bounds the worker label: ids past the cap share "other"', async () => {
    const events = new RunEvents();
    const m = createRunMetrics(events, { maxWorkerLabels: 3, processMetrics: false });
    for (let i = 0; i < 10; i++) events.emit({ kind: 'tensor_bytes', direction: 'sent', workerId: `host-${i}`, bytes: 1 });
    const f = await families(m);
    const workers = f.find((x) => x.name === 'samlora_weights_sent_bytes_total')!.samples.map((s) => s.labels.worker);
    assert.deepEqual(workers, ['host-0', 'host-1', 'host-2', OVERFLOW_WORKER_LABEL]);
    assert.equal(valueOf(f, 'samlora_weights_sent_bytes_total', { worker: OVERFLOW_WORKER_LABEL }), 7);
  });

  it('the exposition, process metrics included, passes our lint and promtool check metrics', async (t) => {
    const events = new RunEvents();
    const m = createRunMetrics(events);
    events.emit({ kind: 'run_started', info: INFO });
    events.emit(step(1));
    events.emit({ kind: 'tensor_bytes', direction: 'sent', workerId: 'w-1', bytes: 1 });
    const text = await m.registry.metrics();
    assert.deepEqual(lintMetrics(parseExposition(text)), []);
    assert.ok(text.includes('samlora_process_cpu_seconds_total'), 'process metrics carry the prefix');
    const bin = promtoolOrSkip(t);
    if (bin) promtool(bin, ['check', 'metrics'], text);
  });
});
