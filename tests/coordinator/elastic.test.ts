// Elastic membership in the training loop: a worker that fails mid-run is evicted and its samples
// are trained by the others (each exactly once per epoch); a worker that joins is used from the
// next step; the losses equal a single-worker run's.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { prepareRun, type PreparedRun } from '../../coordinator/prepare_run.js';
import { runtimeOptions } from '../../shared/contract/runtime_options.js';
import { type Summary, Trainer } from '../../coordinator/trainer.js';
import type { EvalWork, StepWork, WorkerEndpoint } from '../../shared/contract/worker_endpoint.js';
import { WorkerPool } from '../../coordinator/worker_pool.js';
import { writeDemoDataset } from '../../shared/data/demo_data.js';
import { LocalWorker } from '../../worker/local_worker.js';
import { tinyConfigYaml } from '../helpers/tiny_config.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'samlora-elastic-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** Wraps an in-process worker: counts steps, fails from its `failAt`-th step on, and reports one sample per second. */
class FlakyWorker implements WorkerEndpoint {
  steps = 0;
  constructor(
    private readonly inner: LocalWorker,
    private readonly failAt = Infinity,
  ) {}
  get id(): string {
    return this.inner.id;
  }
  setWeights(v: number, p: ReadonlyMap<string, Float32Array>): Promise<void> {
    return this.inner.setWeights(v, p);
  }
  async trainStep(w: StepWork): ReturnType<LocalWorker['trainStep']> {
    if (++this.steps >= this.failAt) throw new Error('connection lost');
    // Every worker reports the same speed, so shares stay equal (share sizing: share_plan.test.ts).
    const r = await this.inner.trainStep(w);
    return { ...r, computeSeconds: r.samples.length };
  }
  evaluate(w: EvalWork): ReturnType<LocalWorker['evaluate']> {
    return this.inner.evaluate(w);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

function localWorker(p: PreparedRun, id: string): LocalWorker {
  return new LocalWorker({ id, config: p.config, model: p.model, datasets: { train: p.train, ...(p.test ? { test: p.test } : {}) }, runtime: runtimeOptions(p.config) });
}

/** Adds `late` to the pool while its own weights of version `atVersion` are being sent (a join during a sync). */
class JoinsDuringSync extends FlakyWorker {
  constructor(
    inner: LocalWorker,
    private readonly pool: WorkerPool,
    private readonly late: FlakyWorker,
    private readonly atVersion: number,
    private readonly all: FlakyWorker[],
  ) {
    super(inner);
  }
  override async setWeights(v: number, p: ReadonlyMap<string, Float32Array>): Promise<void> {
    if (v === this.atVersion) {
      this.all.push(this.late);
      this.pool.add(this.late);
      // The sync is still pending while the late worker is in the pool.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    return super.setWeights(v, p);
  }
}

async function run(
  name: string,
  workers: (p: PreparedRun, pool: WorkerPool, all: FlakyWorker[]) => FlakyWorker[],
  join?: { afterStep: number; make: (p: PreparedRun) => FlakyWorker },
): Promise<{ summary: Summary; workers: FlakyWorker[] }> {
  const p = await prepareRun({ configPath: config, runDir: path.join(tmp, name) });
  const pool = new WorkerPool(1);
  const all: FlakyWorker[] = [];
  all.push(...workers(p, pool, all));
  for (const w of all) pool.add(w);
  const trainer = new Trainer({
    config: p.config,
    model: p.model,
    run: p.run,
    runId: name,
    pool,
    trainIds: p.trainIds,
    testIds: p.testIds,
    progress: (line) => {
      const m = /step (\d+)\//.exec(line);
      if (join && m && Number(m[1]) === join.afterStep) {
        const w = join.make(p);
        all.push(w);
        pool.add(w);
      }
    },
  });
  try {
    return { summary: await trainer.run(), workers: all };
  } finally {
    await pool.closeAll();
  }
}

let config: string;

describe('elastic membership', () => {
  before(async () => {
    const demo = path.join(tmp, 'demo');
    await writeDemoDataset(demo, { seed: 4, train: 9, test: 2, size: 64 });
    config = path.join(tmp, 'config.yaml');
    writeFileSync(config, tinyConfigYaml({ train: path.join(demo, 'train'), test: path.join(demo, 'test'), batchSize: 3, seed: 5, checkpointDir: tmp }));
  });

  it('a failing worker is evicted, its samples are trained by the others, a new worker is used from the next step; losses match one worker', async () => {
    const single = await run('single', (p) => [new FlakyWorker(localWorker(p, 'solo'))]);
    const elastic = await run(
      'elastic',
      (p) => [new FlakyWorker(localWorker(p, 'a')), new FlakyWorker(localWorker(p, 'b'), 3), new FlakyWorker(localWorker(p, 'c'))],
      { afterStep: 4, make: (p) => new FlakyWorker(localWorker(p, 'late')) },
    );
    const s = elastic.summary;
    assert.equal(s.status, 'completed');
    assert.equal(s.evictions, 1);
    assert.deepEqual(
      s.epochs.map((e) => [e.samples_trained, e.duplicates, e.missing]),
      [
        [9, 0, 0],
        [9, 0, 0],
      ],
    );
    const late = elastic.workers.find((w) => w.id === 'late')!;
    assert.ok(late.steps > 0, 'the worker that joined was given work');
    assert.equal(s.losses.length, single.summary.losses.length);
    s.losses.forEach((l, i) => {
      const ref = single.summary.losses[i]!;
      assert.ok(Math.abs(l - ref) <= 1e-5 * Math.max(1, Math.abs(ref)), `step ${i}: ${l} vs one worker's ${ref}`);
    });
  });

  it('a worker that joins while the weights are being sent gets no task before it holds the current version', async () => {
    const r = await run('join-during-sync', (p, pool, all) => [new JoinsDuringSync(localWorker(p, 'a'), pool, new FlakyWorker(localWorker(p, 'late')), 3, all)]);
    assert.equal(r.summary.status, 'completed');
    // A task for a version the worker does not hold fails its version check and evicts it.
    assert.equal(r.summary.evictions, 0);
    const late = r.workers.find((w) => w.id === 'late')!;
    assert.ok(late.steps > 0, 'the late worker was used once it held the weights');
  });
});
