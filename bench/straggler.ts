// A mixed fleet: does the step time follow the fleet's total throughput, or the slowest worker?
// The training loop (coordinator/trainer.ts) drives two in-process workers of a tiny model whose
// compute is SIMULATED as a fixed time per sample: one worker takes --slow-ms per sample (half the
// speed of the other, by default), the other --fast-ms. Each step's shares follow the throughput the
// workers report (coordinator/share_plan.ts), so after the first step the step time should be near
// fleet_bound_s = batch / (1/fast + 1/slow) rather than equal_shares_s = batch/2 × slow.
//
// A share still out when the other worker is idle and late by that worker's pace is copied to it
// (first answer counts): `copies` says how often that happened.
//
// node dist/bench/straggler.js [--batch 12] [--steps 8] [--fast-ms 150] [--slow-ms 300]
// One JSON line on stdout.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { prepareRun } from '../coordinator/prepare_run.js';
import { RunEvents } from '../coordinator/run_events.js';
import { Trainer } from '../coordinator/trainer.js';
import { WorkerPool } from '../coordinator/worker_pool.js';
import { runtimeOptions } from '../shared/contract/runtime_options.js';
import type { EvalWork, StepResult, StepWork, WorkerEndpoint } from '../shared/contract/worker_endpoint.js';
import { writeDemoDataset } from '../shared/data/demo_data.js';
import { LocalWorker } from '../worker/local_worker.js';
import { median } from './result.js';

/** A worker whose step takes `perSampleMs` per sample (its real compute included), reported as its compute time. */
class TimedWorker implements WorkerEndpoint {
  samples: number[] = [];
  constructor(
    private readonly inner: LocalWorker,
    private readonly perSampleMs: number,
  ) {}
  get id(): string {
    return this.inner.id;
  }
  setWeights(v: number, p: ReadonlyMap<string, Float32Array>): Promise<void> {
    return this.inner.setWeights(v, p);
  }
  async trainStep(w: StepWork): Promise<StepResult> {
    const t0 = performance.now();
    const r = await this.inner.trainStep(w);
    const left = w.samples.length * this.perSampleMs - (performance.now() - t0);
    if (left > 0) await new Promise<void>((resolve) => setTimeout(resolve, left));
    this.samples.push(w.samples.length);
    return { ...r, computeSeconds: (performance.now() - t0) / 1000 };
  }
  evaluate(w: EvalWork): ReturnType<WorkerEndpoint['evaluate']> {
    return this.inner.evaluate(w);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { batch: { type: 'string' }, steps: { type: 'string' }, 'fast-ms': { type: 'string' }, 'slow-ms': { type: 'string' } } });
  const batch = Number(values.batch ?? 12);
  const steps = Number(values.steps ?? 8);
  const fastMs = Number(values['fast-ms'] ?? 150);
  const slowMs = Number(values['slow-ms'] ?? 300);
  const dir = mkdtempSync(path.join(tmpdir(), 'samlora-straggler-'));
  try {
    await writeDemoDataset(path.join(dir, 'demo'), { seed: 1, train: batch * steps, test: 1, size: 64 });
    const config = path.join(dir, 'config.yaml');
    writeFileSync(
      config,
      `model:
  checkpoint: null
  variant: { dim: 32, depth: 2, heads: 2, glob: [1], img: 64, window: 2, pdim: 32, dmlp: 64, iouh: 32 }
  decoder_heads: 2
data:
  train: ${path.join(dir, 'demo', 'train')}
  test: null
train:
  epochs: 1
  batch_size: ${batch}
checkpoint:
  dir: ${dir}
`,
    );
    const p = await prepareRun({ configPath: config, runDir: path.join(dir, 'run') });
    const make = (id: string, ms: number): TimedWorker =>
      new TimedWorker(new LocalWorker({ id, config: p.config, model: p.model, datasets: { train: p.train }, runtime: runtimeOptions(p.config) }), ms);
    const fast = make('fast', fastMs);
    const slow = make('slow', slowMs);
    const pool = new WorkerPool(2);
    pool.add(fast);
    pool.add(slow);
    const events = new RunEvents();
    const stepSeconds: number[] = [];
    events.on((e) => void (e.kind === 'step' && stepSeconds.push(e.timing.stepSeconds)));
    // Copies of late shares (coordinator/share_round.ts): none expected here, the shares being sized to the speeds.
    let copies = 0;
    const trainer = new Trainer({ config: p.config, model: p.model, run: p.run, runId: 'straggler', pool, trainIds: p.trainIds, testIds: p.testIds, events, progress: (l) => void (/computes them too/.test(l) && copies++) });
    await trainer.run();
    await pool.closeAll();
    const rate = 1000 / fastMs + 1000 / slowMs;
    process.stdout.write(
      `${JSON.stringify({
        bench: 'straggler',
        compute: `simulated: ${fastMs} and ${slowMs} ms per sample`,
        batch,
        steps: stepSeconds.length,
        // The first step has no measurements yet: equal shares.
        median_step_s_after_first: median(stepSeconds.slice(1)),
        first_step_s: stepSeconds[0],
        fleet_bound_s: batch / rate,
        equal_shares_s: (Math.ceil(batch / 2) * slowMs) / 1000,
        shares_fast: fast.samples,
        shares_slow: slow.samples,
        // Shares copied to an idle worker, and answers of abandoned copies (the slow worker's, ignored).
        copies,
        ignored_answers: trainer.ignoredAnswers,
      })}\n`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
