// The dashboard's state, replayed from a real tiny run's recorded events: it agrees with the run's
// summary, shows each fact once, and the reducer is pure. Then membership, failures, rates and the ETA
// on small hand-made sequences.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RunEvent, RunInfo } from '../../coordinator/run_events.js';
import { type RunState, initialRunState, liveWorkers, reduceRunState } from '../../dashboard/run_state.js';
import { type RecordedEvent, recordedTinyRun } from '../helpers/recorded_run.js';

const replay = (events: readonly RecordedEvent[], from: RunState = initialRunState()): RunState => events.reduce((s, r) => reduceRunState(s, r.event, r.at), from);

function deepFreeze<T>(x: T): T {
  if (x && typeof x === 'object' && !Object.isFrozen(x)) {
    Object.freeze(x);
    for (const v of Object.values(x)) deepFreeze(v);
  }
  return x;
}

const INFO: RunInfo = { runId: 'r', variant: 'vit_b', checkpoint: null, rank: 4, device: 'cpu', epochs: 2, stepsPerEpoch: 5, totalSteps: 10, batchSize: 4, startStep: 0, lr: 1e-4 };

function step(n: number, workers: { id: string; samples: number; loss: number }[]): RunEvent {
  return {
    kind: 'step',
    step: n,
    epoch: Math.floor((n - 1) / 5) + 1,
    images: workers.reduce((a, w) => a + w.samples, 0),
    loss: 1 / n,
    lr: 1e-4,
    skipped: false,
    timing: { stepSeconds: 0.5, reduceSeconds: 0.01, waitForSlowestSeconds: 0, workers: workers.map((w) => ({ workerId: w.id, samples: w.samples, computeSeconds: 0.5, answeredAfterSeconds: 0.5, loss: w.loss })) },
  };
}

describe('run state from a real run', () => {
  it('agrees with the summary: steps, losses, evaluations, workers, status', async () => {
    const { events, summary } = await recordedTinyRun();
    const s = replay(events);
    assert.equal(s.status, 'completed');
    assert.equal(s.info?.totalSteps, summary.steps);
    assert.equal(s.step, summary.steps);
    assert.deepEqual(s.losses, summary.losses);
    assert.equal(s.loss, summary.final_loss);
    assert.equal(s.evalBefore?.dice, summary.eval_before?.dice);
    assert.equal(s.evalLatest?.phase, 'after');
    assert.equal(s.evalLatest?.dice, summary.eval_after?.dice);
    assert.ok(s.evalPrevious && s.evalPrevious.phase === 'during', 'the epoch-1 evaluation is the previous one');
    assert.deepEqual(
      s.workers.map((w) => w.id),
      ['local-0', 'local-1'],
    );
    assert.equal(
      s.workers.reduce((a, w) => a + w.samples, 0),
      summary.epochs.reduce((a, e) => a + e.samples_trained, 0),
    );
    for (const w of s.workers) {
      assert.equal(w.failures, 0);
      assert.ok(w.imagesPerSecond! > 0 && w.stepSeconds! > 0 && Number.isFinite(w.lastLoss));
    }
    assert.equal(liveWorkers(s), 2);
    assert.ok(s.imagesPerSecond! > 0);
    assert.equal(s.etaSeconds, 0);
    assert.equal(s.lastCheckpoint?.step, summary.steps);
  });

  it('its event log has each fact once: checkpoints and evaluations from typed events, no step lines', async () => {
    const { events, summary } = await recordedTinyRun();
    const s = replay(events);
    const texts = s.log.map((e) => e.text);
    assert.ok(!texts.some((t) => /^epoch \d+\/\d+ step /.test(t)), 'no per-step lines');
    assert.equal(texts.filter((t) => t.startsWith('eval before training')).length, 1);
    assert.equal(texts.filter((t) => t.startsWith('eval after training')).length, 1);
    assert.equal(texts.filter((t) => t.startsWith('checkpoint ')).length, events.filter((e) => e.event.kind === 'checkpoint').length);
    assert.ok(texts.some((t) => t.startsWith('worker local-0 joined (')));
    assert.equal(texts[texts.length - 1], 'run completed');
    assert.ok(summary.steps > 0);
  });

  it('the trainer logs no text that restates a typed event (steps and evaluations arrive typed only)', async () => {
    const { events } = await recordedTinyRun();
    const lines = events.flatMap((r) => (r.event.kind === 'log' ? [r.event.text] : []));
    assert.deepEqual(
      lines.filter((t) => /^(epoch \d+\/\d+ step |eval (before|after|at) )/.test(t)),
      [],
    );
    assert.ok(events.some((r) => r.event.kind === 'eval'));
  });

  it('is pure: a frozen state is never changed, and a replay gives the same state', async () => {
    const { events } = await recordedTinyRun();
    let s = deepFreeze(initialRunState());
    for (const r of events) s = deepFreeze(reduceRunState(s, r.event, r.at));
    assert.deepEqual(replay(events), s);
  });
});

describe('run state from hand-made events', () => {
  it('counts failures, tracks who is live and waiting, and not the workers that leave after the run', () => {
    const events: RunEvent[] = [
      { kind: 'run_started', info: INFO },
      { kind: 'worker_joined', id: 'a', host: 'h1', device: 'cuda:0' },
      { kind: 'worker_joined', id: 'b', host: 'h2', device: 'cuda:1' },
      step(1, [
        { id: 'a', samples: 2, loss: 0.5 },
        { id: 'b', samples: 2, loss: 0.7 },
      ]),
      { kind: 'message_rejected', workerId: 'a', reason: 'NaN in a gradient' },
      { kind: 'worker_evicted', id: 'a', reason: 'sent a malformed result' },
      { kind: 'waiting_for_workers', live: 1, needed: 2 },
    ];
    let s = events.reduce((st, e, i) => reduceRunState(st, e, i * 1000), initialRunState());
    const a = s.workers.find((w) => w.id === 'a')!;
    assert.equal(a.state, 'left');
    assert.equal(a.failures, 2);
    assert.equal(a.leftReason, 'sent a malformed result');
    assert.equal(liveWorkers(s), 1);
    assert.equal(s.peakWorkers, 2);
    assert.deepEqual(s.waiting, { live: 1, needed: 2 });
    assert.ok(s.log.some((l) => l.level === 'warn' && l.text === 'worker a left: sent a malformed result'));
    s = reduceRunState(s, { kind: 'worker_joined', id: 'c', host: 'h3', device: 'cuda:0' }, 8000);
    assert.equal(s.waiting, null, 'enough workers again');
    s = reduceRunState(s, { kind: 'run_ended', status: 'completed' }, 9000);
    s = reduceRunState(s, { kind: 'worker_evicted', id: 'b', reason: 'the run is over' }, 9500);
    assert.equal(s.workers.find((w) => w.id === 'b')!.failures, 0);
    assert.equal(s.log[s.log.length - 1]!.level, 'info');
  });

  it('measures throughput over wall time and the ETA from the time per step', () => {
    let s = reduceRunState(initialRunState(), { kind: 'run_started', info: INFO }, 0);
    s = reduceRunState(s, { kind: 'worker_joined', id: 'a', host: 'h', device: 'cpu' }, 0);
    for (const [n, at] of [
      [1, 1000],
      [2, 2000],
      [3, 3000],
    ] as const) {
      s = reduceRunState(s, step(n, [{ id: 'a', samples: 4, loss: 0.5 }]), at);
    }
    assert.equal(s.imagesPerSecond, 4, '8 images in the 2 s between the first and the last step');
    assert.equal(s.etaSeconds, 7, '7 steps left at 1 s each');
    assert.equal(s.workers[0]!.imagesPerSecond, 8, '4 samples in 0.5 s of compute');
    assert.equal(s.workers[0]!.state, 'active');
  });

  it('waiting for workers is a state of its own and stays out of the throughput and the ETA', () => {
    let s = reduceRunState(initialRunState(), { kind: 'run_started', info: INFO }, 0);
    s = reduceRunState(s, { kind: 'worker_joined', id: 'a', host: 'h', device: 'cpu' }, 0);
    s = reduceRunState(s, step(1, [{ id: 'a', samples: 4, loss: 0.5 }]), 1000);
    s = reduceRunState(s, { kind: 'waiting_for_workers', live: 1, needed: 2 }, 1500);
    assert.deepEqual(s.waiting, { live: 1, needed: 2 });
    // Step 2 waited 100 s for a worker, then took 1 s like the others; so did step 3.
    const waited = step(2, [{ id: 'a', samples: 4, loss: 0.5 }]) as Extract<RunEvent, { kind: 'step' }>;
    s = reduceRunState(s, { ...waited, timing: { ...waited.timing, waitingSeconds: 100 } }, 102_000);
    assert.equal(s.waiting, null, 'a step ends the wait');
    s = reduceRunState(s, step(3, [{ id: 'a', samples: 4, loss: 0.5 }]), 103_000);
    assert.equal(s.imagesPerSecond, 4, '8 images in the 2 s of training between the first and the last step');
    assert.equal(s.etaSeconds, 7, '7 steps left at 1 s each: the 100 s wait is not in the rate');
    assert.equal(s.overheadFraction, 0, 'nor in the overhead (stepSeconds excludes it)');
  });

  it('a skipped step is counted and its loss kept as is', () => {
    let s = reduceRunState(initialRunState(), { kind: 'run_started', info: INFO }, 0);
    s = reduceRunState(s, { ...step(1, []), loss: Number.NaN, skipped: true } as RunEvent, 10);
    assert.equal(s.skippedSteps, 1);
    assert.ok(Number.isNaN(s.losses[0]!));
  });

  it('the overhead is the share of recent step time beyond the slowest worker\'s compute', () => {
    let s = reduceRunState(initialRunState(), { kind: 'run_started', info: INFO }, 0);
    assert.equal(s.overheadFraction, null, 'nothing before the first step');
    assert.equal(reduceRunState(s, step(1, []), 500).overheadFraction, null, 'nor after a step without worker timings');
    const timed = (n: number, stepSeconds: number, computes: number[]): RunEvent => {
      const e = step(n, computes.map((_, i) => ({ id: `w${i}`, samples: 1, loss: 0.5 }))) as Extract<RunEvent, { kind: 'step' }>;
      return { ...e, timing: { ...e.timing, stepSeconds, workers: e.timing.workers.map((w, i) => ({ ...w, computeSeconds: computes[i]! })) } };
    };
    // 2 s step, slowest worker 1.5 s: 0.5 s beyond compute.
    s = reduceRunState(s, timed(1, 2, [1, 1.5]), 1000);
    assert.equal(s.overheadFraction, 0.25);
    // Then a 1 s step whose worker computed 0.9 s: (0.5 + 0.1) / (2 + 1).
    s = reduceRunState(s, timed(2, 1, [0.9]), 2000);
    assert.ok(Math.abs(s.overheadFraction! - 0.6 / 3) < 1e-12);
    // A worker reporting more compute than the step took counts as no overhead, not negative.
    s = reduceRunState(s, timed(3, 1, [1.2]), 3000);
    assert.ok(Math.abs(s.overheadFraction! - 0.6 / 4) < 1e-12);
  });
});
