// Stragglers in the training loop: a worker that does not answer while an idle one could has its
// share copied to the idle worker, the first answer counts, its own late answer is ignored, each
// sample counts once and the weights are those of an undisturbed run, to the bit. A worker that
// stalls far beyond its observed pace is evicted by the derived deadline; a steady one never is.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it, test } from 'node:test';
import { prepareRun, type PreparedRun } from '../../coordinator/prepare_run.js';
import { RunEvents } from '../../coordinator/run_events.js';
import { type Summary, Trainer } from '../../coordinator/trainer.js';
import { WorkerPool } from '../../coordinator/worker_pool.js';
import { DEFAULT_DEADLINE_FACTOR, DEFAULT_DEADLINE_FLOOR_MS, DEFAULT_FIRST_SHARE_MS, type StepDeadlinePolicy, shareDeadlineMs } from '../../coordinator/step_deadline.js';
import { runtimeOptions } from '../../shared/contract/runtime_options.js';
import type { EvalWork, StepResult, StepWork, WorkerEndpoint } from '../../shared/contract/worker_endpoint.js';
import { writeDemoDataset } from '../../shared/data/demo_data.js';
import { loadLora } from '../../shared/sam/lora_io.js';
import { LocalWorker } from '../../worker/local_worker.js';
import { tinyConfigYaml } from '../helpers/tiny_config.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'samlora-stragglers-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/**
 * An in-process worker that, like a real one, handles one request at a time: new weights wait for
 * the step it is computing to be answered. `hold` keeps a step's answer back until it resolves.
 */
class StandIn implements WorkerEndpoint {
  answers: { step: number; samples: string[] }[] = [];
  calls = 0;
  private last: Promise<unknown> = Promise.resolve();
  closed = false;
  private readonly onClose: (() => void)[] = [];
  constructor(
    private readonly inner: LocalWorker,
    private readonly hold: (w: StepWork, call: number) => Promise<void> = () => Promise.resolve(),
  ) {}
  get id(): string {
    return this.inner.id;
  }
  async setWeights(v: number, p: ReadonlyMap<string, Float32Array>): Promise<void> {
    await this.last.catch(() => undefined);
    // The pending answer's handlers (all microtasks) run before the weights are taken.
    await new Promise<void>((resolve) => setImmediate(resolve));
    return this.inner.setWeights(v, p);
  }
  trainStep(w: StepWork): Promise<StepResult> {
    const call = ++this.calls;
    const run = (async () => {
      const r = await this.inner.trainStep(w);
      await Promise.race([this.hold(w, call), new Promise<never>((_, reject) => this.onClose.push(() => reject(new Error('closed'))))]);
      this.answers.push({ step: w.step, samples: r.samples.map((s) => s.id) });
      return r;
    })();
    this.last = run;
    return run;
  }
  evaluate(w: EvalWork): ReturnType<WorkerEndpoint['evaluate']> {
    return this.inner.evaluate(w);
  }
  async close(): Promise<void> {
    this.closed = true;
    for (const f of this.onClose) f();
    await this.inner.close();
  }
}

function local(p: PreparedRun, id: string): LocalWorker {
  return new LocalWorker({ id, config: p.config, model: p.model, datasets: { train: p.train }, runtime: runtimeOptions(p.config) });
}

interface Outcome {
  summary: Summary;
  trainer: Trainer;
  lines: string[];
  stepWorkers: string[][];
  pool: WorkerPool;
}

async function run(name: string, make: (p: PreparedRun, events: RunEvents) => StandIn[], stepDeadline?: StepDeadlinePolicy): Promise<Outcome> {
  const p = await prepareRun({ configPath: config, runDir: path.join(tmp, name) });
  const events = new RunEvents();
  const stepWorkers: string[][] = [];
  events.on((e) => void (e.kind === 'step' && stepWorkers.push(e.timing.workers.map((w) => w.workerId))));
  const pool = new WorkerPool(1);
  for (const w of make(p, events)) pool.add(w);
  const lines: string[] = [];
  const trainer = new Trainer({
    config: p.config,
    model: p.model,
    run: p.run,
    runId: name,
    pool,
    trainIds: p.trainIds,
    testIds: p.testIds,
    events,
    progress: (l) => lines.push(l),
    ...(stepDeadline ? { stepDeadline } : {}),
  });
  const summary = await trainer.run();
  return { summary, trainer, lines, stepWorkers, pool };
}

async function finalWeights(s: Summary): Promise<Map<string, Float32Array>> {
  const l = await loadLora(path.join(s.checkpoints.final!, 'lora.safetensors'));
  return new Map([...l.tensors].map(([k, t]) => [k, t.data as Float32Array]));
}

let config: string;

describe('stragglers', () => {
  before(async () => {
    const demo = path.join(tmp, 'demo');
    await writeDemoDataset(demo, { seed: 6, train: 8, test: 1, size: 64 });
    config = path.join(tmp, 'config.yaml');
    // Batch 2 over 2 workers: one sample each whatever their speeds, so both runs split alike.
    writeFileSync(config, tinyConfigYaml({ train: path.join(demo, 'train'), test: null, epochs: 1, batchSize: 2, seed: 7, checkpointDir: tmp }));
  });

  it("a worker that holds its answers back: every step finishes on the other's copy, its late answers are ignored, weights equal the undisturbed run's", async () => {
    const reference = await run('reference', (p) => [new StandIn(local(p, 'fast')), new StandIn(local(p, 'slow'))]);
    let slow!: StandIn;
    const held = await run('held', (p, events) => {
      // After its first step (both workers' warm-up, which is not measured), the slow worker answers
      // a step only once the trainer has finished that step without it.
      const finished = new Set<number>();
      const waiting = new Map<number, () => void>();
      events.on((e) => {
        if (e.kind !== 'step') return;
        finished.add(e.step - 1);
        waiting.get(e.step - 1)?.();
      });
      slow = new StandIn(local(p, 'slow'), (w, call) => (call === 1 || finished.has(w.step) ? Promise.resolve() : new Promise<void>((resolve) => waiting.set(w.step, resolve))));
      return [new StandIn(local(p, 'fast')), slow];
    });
    try {
      const s = held.summary;
      assert.equal(s.status, 'completed');
      assert.equal(s.evictions, 0);
      assert.deepEqual(
        s.epochs.map((e) => [e.samples_trained, e.duplicates, e.missing]),
        [[8, 0, 0]],
      );
      // After the first, each step's answers came from the fast worker alone (its own share and its copy of the slow one's).
      assert.deepEqual(held.stepWorkers, [
        ['fast', 'slow'],
        ['fast', 'fast'],
        ['fast', 'fast'],
        ['fast', 'fast'],
      ]);
      // The slow worker did answer each step, later, and those answers were not used.
      await waitFor('the last held answer', () => slow.answers.length === 4);
      await waitFor('the last held answer to be ignored', () => held.trainer.ignoredAnswers === 3);
      assert.ok(held.lines.some((l) => /worker fast's copy of worker slow's share answered first/.test(l)), held.lines.join('\n'));
      assert.deepEqual(held.summary.losses, reference.summary.losses, 'losses equal, to the bit');
      const a = await finalWeights(reference.summary);
      const b = await finalWeights(held.summary);
      for (const [k, t] of a) assert.deepEqual(b.get(k), t, `${k} equals the undisturbed run's, to the bit`);
    } finally {
      await held.pool.closeAll();
      await reference.pool.closeAll();
    }
  });

  it('a worker that stalls far beyond its observed pace is evicted by the derived deadline; a jittery one is not', async () => {
    const floorMs = 1500;
    let stalledAt = 0;
    let evictedAt = 0;
    const evicted: string[] = [];
    const r = await run(
      'deadline',
      (p) => [
        // Steady, with jitter: an extra 0, 50 or 100% of a 20 ms step.
        new StandIn(local(p, 'steady'), (_, call) => new Promise<void>((resolve) => setTimeout(resolve, [0, 10, 20][call % 3]))),
        // Answers its first two shares (the first is its warm-up, not measured), then never again (a frozen process).
        new StandIn(local(p, 'stalls'), (_, call) => {
          if (call <= 2) return Promise.resolve();
          stalledAt ||= performance.now();
          return new Promise<void>(() => undefined);
        }),
      ],
      { firstShareMs: 60_000, floorMs, factor: 4 },
    );
    try {
      assert.equal(r.summary.status, 'completed');
      assert.deepEqual(
        r.summary.epochs.map((e) => [e.samples_trained, e.duplicates, e.missing]),
        [[8, 0, 0]],
      );
      await waitFor('the eviction', () => r.lines.some((l) => /worker stalls evicted: missed its deadline/.test(l)), 30_000);
      evictedAt = performance.now();
      for (const l of r.lines) if (/evicted/.test(l)) evicted.push(l);
      assert.equal(evicted.length, 1, `only the stalled worker is evicted:\n${evicted.join('\n')}`);
      // Its observed pace is milliseconds, so the floor decides: far below the 60 s first-share allowance (and 600 s).
      assert.ok(evictedAt - stalledAt < floorMs + 10_000, `evicted ${((evictedAt - stalledAt) / 1000).toFixed(1)} s after it stalled`);
    } finally {
      await r.pool.closeAll();
    }
  });
});

/** Polls (by event-loop turns, bounded) until `cond` holds. */
async function waitFor(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const end = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise<void>((resolve) => setTimeout(resolve, 5));
  }
}

test('shareDeadlineMs: first share gets the allowance; then max(floor, factor x expected), capped; a fixed deadline overrides', () => {
  assert.equal(shareDeadlineMs({}, undefined), DEFAULT_FIRST_SHARE_MS);
  assert.equal(shareDeadlineMs({}, 0.5), DEFAULT_DEADLINE_FLOOR_MS);
  assert.equal(shareDeadlineMs({}, 20), DEFAULT_DEADLINE_FACTOR * 20_000);
  assert.equal(shareDeadlineMs({}, 1e6), DEFAULT_FIRST_SHARE_MS);
  assert.equal(shareDeadlineMs({ floorMs: 100, factor: 3, firstShareMs: 5000 }, 0.2), 600);
  assert.equal(shareDeadlineMs({ fixedMs: 1234 }, 0.2), 1234);
  // Jitter of up to 3x its pace keeps a worker well inside its deadline.
  const paceS = 8;
  assert.ok(3 * paceS * 1000 < shareDeadlineMs({}, paceS));
});
