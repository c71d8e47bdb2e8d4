// Line mode's one-line progress records, from a real tiny run's events and on a hand-made clock.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatProgressRecord, progressRecords } from '../../dashboard/progress_records.js';
import type { RunEvent, RunInfo } from '../../coordinator/run_events.js';
import { initialRunState } from '../../dashboard/run_state.js';
import { recordedTinyRun } from '../helpers/recorded_run.js';

const RECORD = /^step (\d+)\/6 epoch [12]\/2 loss \d+\.\d{4} lr \d\.\de-\d [\d.]+ img\/s eta \S+ workers 2\/2 overhead \d+%$/;

const INFO: RunInfo = { runId: 'r', variant: 'vit_b', checkpoint: null, rank: 4, device: 'cpu', epochs: 10, stepsPerEpoch: 80, totalSteps: 800, batchSize: 4, startStep: 0, lr: 1e-4 };

function stepAt(n: number): RunEvent {
  return { kind: 'step', step: n, epoch: Math.floor((n - 1) / 80) + 1, images: 4, loss: 0.5, lr: 1e-4, skipped: false, timing: { stepSeconds: 1, reduceSeconds: 0, waitForSlowestSeconds: 0, workers: [] } };
}

describe('progress records', () => {
  it('every step with interval 0: one record a step, in the documented format', async () => {
    const { events, summary } = await recordedTinyRun();
    const out: string[] = [];
    const listener = progressRecords((l) => out.push(l), { intervalMs: 0, now: (() => { let i = 0; return () => events[i++]!.at; })() });
    for (const r of events) listener(r.event);
    assert.equal(out.length, summary.steps);
    out.forEach((l, i) => assert.equal(RECORD.exec(l)?.[1], String(i + 1), l));
    assert.match(out[out.length - 1]!, / eta 0s /);
  });

  it('throttled: the first step, epoch ends and the last step, and one per interval between', async () => {
    const { events } = await recordedTinyRun();
    const out: string[] = [];
    let i = 0;
    const listener = progressRecords((l) => out.push(l), { intervalMs: Number.POSITIVE_INFINITY, now: () => events[i]!.at });
    for (; i < events.length; i++) listener(events[i]!.event);
    assert.deepEqual(
      out.map((l) => Number(RECORD.exec(l)?.[1])),
      [1, 3, 6],
    );

    const timed: string[] = [];
    let t = 0;
    const slow = progressRecords((l) => timed.push(l), { intervalMs: 10_000, now: () => t });
    slow({ kind: 'run_started', info: INFO });
    // A step every 4 s: a record at most every 10 s, so steps 1, 4 (t=16 s), 7 (t=28 s), 10 (t=40 s).
    for (let n = 1; n <= 10; n++) {
      t = 4000 * n;
      slow(stepAt(n));
    }
    assert.deepEqual(
      timed.map((l) => Number(/^step (\d+)/.exec(l)![1])),
      [1, 4, 7, 10],
    );
    assert.match(timed[1]!, /^step 4\/800 epoch 1\/10 loss 0\.5000 lr 1\.0e-4 1\.00 img\/s eta 53m04s workers 0\/0$/);
  });

  it('fp16 runs: the loss scale after the step ends the record', () => {
    const out: string[] = [];
    const listener = progressRecords((l) => out.push(l), { intervalMs: 0, now: () => 0 });
    listener({ kind: 'run_started', info: INFO });
    listener({ ...(stepAt(1) as Extract<RunEvent, { kind: 'step' }>), lossScale: 32768, overflow: true, skipped: true });
    assert.match(out[0]!, /^step 1\/800 .* loss scale 32768$/);
  });

  it('waiting for workers: a record at once, the first step after it, and the wait kept out of the ETA', () => {
    const out: string[] = [];
    let t = 0;
    const records = progressRecords((l) => out.push(l), { intervalMs: 60_000, now: () => t });
    records({ kind: 'run_started', info: INFO });
    t = 1000;
    records(stepAt(1));
    t = 2000;
    records(stepAt(2)); // within the interval: no record
    t = 2500;
    records({ kind: 'waiting_for_workers', live: 1, needed: 2 });
    // Step 3 waited 3600 s for the second worker, then took 1 s.
    t = 3_603_000;
    const s3 = stepAt(3) as Extract<RunEvent, { kind: 'step' }>;
    records({ ...s3, timing: { ...s3.timing, waitingSeconds: 3600 } });
    assert.deepEqual(out.map((l) => l.replace(/ lr .* img\/s/, '')), [
      'step 1/800 epoch 1/10 loss 0.5000 eta 13m19s workers 0/0',
      'waiting for workers: 1 connected, 2 needed at step 2/800 epoch 1/10 (eta and rates paused)',
      'step 3/800 epoch 1/10 loss 0.5000 eta 13m17s workers 0/2',
    ]);
    // 797 steps left at 1 s each (2 s of training over the 2 steps since the first), not at 1801 s
    // each; 8 images over those 2 s.
    assert.match(out[2]!, / 4\.00 img\/s eta 13m17s /);
  });

  it('before any step it still formats', () => {
    assert.match(formatProgressRecord(initialRunState()), /^step 0\/0 epoch 1\/1 loss - lr - - img\/s eta \? workers 0\/0$/);
  });
});
