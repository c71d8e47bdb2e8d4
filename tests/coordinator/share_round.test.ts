// One round of shares with copies for stragglers: when a copy is worth starting, that the first
// valid answer counts, that the other is handed back as abandoned, and that deadlines fail a copy.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { COPY_SLACK, ShareDeadlineMissed, copyWorthwhileAt, runShareRound } from '../../coordinator/share_round.js';
import type { EvalResult, StepResult, WorkerEndpoint } from '../../shared/contract/worker_endpoint.js';

test('copyWorthwhileAt: equal workers never copy on jitter; a much slower or overdue original is copied', () => {
  // Equal workers (1 s each): not before the original is late by COPY_SLACK x the copy's time.
  assert.equal(copyWorthwhileAt(1, 1, 1), 1 + COPY_SLACK);
  assert.equal(copyWorthwhileAt(1, 1, 1.4), 1 + COPY_SLACK, 'a share 40% late is jitter, not a straggler');
  // The original is expected to take 10 s, the idle worker 1 s: copy once the idle worker's own time has passed.
  assert.equal(copyWorthwhileAt(1, 10, 0), 1);
  assert.equal(copyWorthwhileAt(1, 10, 3), 3);
  // Half speed (2 s vs 1 s): the copy would not finish first, so only an overdue original is copied.
  assert.equal(copyWorthwhileAt(1, 2, 1), 2 + COPY_SLACK);
  assert.equal(copyWorthwhileAt(1, 2, 5), 5);
});

/** A stand-in endpoint whose step answers when the test says so (no timing involved). */
class Manual implements WorkerEndpoint {
  calls: string[][] = [];
  private readonly answers: ((r: StepResult) => void)[] = [];
  private readonly failures: ((e: Error) => void)[] = [];
  constructor(readonly id: string) {}
  setWeights(): Promise<void> {
    return Promise.resolve();
  }
  trainStep(w: { samples: { id: string }[] }): Promise<StepResult> {
    this.calls.push(w.samples.map((s) => s.id));
    return new Promise((resolve, reject) => {
      this.answers.push(resolve);
      this.failures.push(reject);
    });
  }
  answer(i: number, tag: string): void {
    this.answers[i]!({ step: 0, grads: new Map(), weightSum: 1, lossSum: 1, samples: this.calls[i]!.map((id) => ({ id, loss: 1, weight: 1 })), failed: [], computeSeconds: 0, weightsHash: tag });
  }
  fail(i: number): void {
    this.failures[i]!(new Error('connection lost'));
  }
  evaluate(): Promise<EvalResult> {
    return Promise.resolve({ scores: [], failed: [] });
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

const pace = (perSample: Record<string, number>) => (id: string, n: number) => (perSample[id] === undefined ? undefined : perSample[id]! * n);
const until = async (what: string, cond: () => boolean): Promise<void> => {
  const end = Date.now() + 5000;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
};

test('an idle worker gets a copy of a late share; the first valid answer counts and the other copy is abandoned', async () => {
  const fast = new Manual('fast');
  const slow = new Manual('slow');
  const copies: string[] = [];
  // The slow one is measured at 10 s per sample, the fast one at 1 ms: a copy is worth it at once.
  const round = runShareRound({
    parts: [
      { worker: fast, items: ['a'] },
      { worker: slow, items: ['b'] },
    ],
    task: (w, items) => w.trainStep({ epoch: 0, step: 0, weightsVersion: 0, samples: items.map((id) => ({ id })) }),
    check: () => undefined,
    expectedSeconds: pace({ fast: 0.001, slow: 10 }),
    onCopy: (from, to) => copies.push(`${from}->${to}`),
  });
  await until('the fast worker got its share', () => fast.calls.length === 1);
  fast.answer(0, 'fast-a');
  await until('the copy started', () => fast.calls.length === 2);
  assert.deepEqual(fast.calls[1], ['b'], "the copy is the slow worker's share");
  assert.deepEqual(copies, ['slow->fast']);
  fast.answer(1, 'fast-b');
  const out = await round;
  assert.deepEqual(
    out.won.map((w) => [w?.worker.id, w?.copy, (w?.result as StepResult).weightsHash]),
    [
      ['fast', false, 'fast-a'],
      ['fast', true, 'fast-b'],
    ],
    'results stay in the parts order',
  );
  assert.deepEqual(out.failures, []);
  assert.deepEqual(
    out.abandoned.map((a) => a.worker.id),
    ['slow'],
  );
  slow.answer(0, 'slow-b');
  const late = await out.abandoned[0]!.outcome;
  assert.equal(late.ok && (late.result as StepResult).weightsHash, 'slow-b', 'the abandoned answer arrives, for the caller to ignore');
});

test('equal workers finishing about together get no copies; a failed copy leaves the share to the other', async () => {
  const a = new Manual('a');
  const b = new Manual('b');
  const copies: string[] = [];
  const round = runShareRound({
    parts: [
      { worker: a, items: ['x'] },
      { worker: b, items: ['y'] },
    ],
    task: (w, items) => w.trainStep({ epoch: 0, step: 0, weightsVersion: 0, samples: items.map((id) => ({ id })) }),
    check: () => undefined,
    // 60 s per sample each: b is not late by anything near COPY_SLACK x 60 s.
    expectedSeconds: pace({ a: 60, b: 60 }),
    onCopy: (from, to) => copies.push(`${from}->${to}`),
  });
  await until('both have their shares', () => a.calls.length === 1 && b.calls.length === 1);
  a.answer(0, 'a');
  b.answer(0, 'b');
  const out = await round;
  assert.deepEqual(copies, []);
  assert.equal(out.abandoned.length, 0);
  assert.deepEqual(
    out.won.map((w) => w?.worker.id),
    ['a', 'b'],
  );

  // Every copy of a share failed: the share is reported lost (to go round again), with each failure.
  const c = new Manual('c');
  const lost = runShareRound({
    parts: [{ worker: c, items: ['z'] }],
    task: (w, items) => w.trainStep({ epoch: 0, step: 0, weightsVersion: 0, samples: items.map((id) => ({ id })) }),
    check: () => undefined,
  });
  await until('c has its share', () => c.calls.length === 1);
  c.fail(0);
  const out2 = await lost;
  assert.deepEqual(out2.won, [undefined]);
  assert.deepEqual(
    out2.failures.map((f) => [f.worker.id, f.reason]),
    [['c', 'connection lost']],
  );
});

test('a copy that misses its deadline fails with ShareDeadlineMissed', async () => {
  const stuck = new Manual('stuck');
  const out = await runShareRound({
    parts: [{ worker: stuck, items: ['q'] }],
    task: (w, items) => w.trainStep({ epoch: 0, step: 0, weightsVersion: 0, samples: items.map((id) => ({ id })) }),
    check: () => undefined,
    deadlineMs: () => 20,
  });
  assert.equal(out.failures.length, 1);
  assert.ok(out.failures[0]!.error instanceof ShareDeadlineMissed);
  assert.match(out.failures[0]!.reason, /missed its deadline: no answer for 1 sample\(s\) within 0\.02 s/);
});
