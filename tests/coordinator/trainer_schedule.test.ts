// The learning-rate schedule under gradient accumulation with skipped steps: one counter (the
// optimizer step a step feeds) drives both the lr that step events report and the lr the update
// uses; a skipped step drops only its own gradient, and every window ends in its own update.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { prepareRun } from '../../coordinator/prepare_run.js';
import { RunEvents } from '../../coordinator/run_events.js';
import { Trainer } from '../../coordinator/trainer.js';
import { WorkerPool } from '../../coordinator/worker_pool.js';
import type { EvalResult, StepResult, StepWork, WorkerEndpoint } from '../../shared/contract/worker_endpoint.js';
import { writeDemoDataset } from '../../shared/data/demo_data.js';
import { tinyConfigYaml } from '../helpers/tiny_config.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'samlora-schedule-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** Every sample's gradient is GRAD in every element, so each window's mean gradient is known. */
const GRAD = 0.5;

/** A worker without a model: known gradients, a non-finite loss on the steps in `skip`; records the weights it is sent. */
class ScriptedWorker implements WorkerEndpoint {
  readonly id = 'scripted';
  readonly weights: Map<string, Float32Array>[] = [];
  constructor(
    private readonly shapes: ReadonlyMap<string, readonly number[]>,
    private readonly skip: ReadonlySet<number>,
  ) {}
  setWeights(_version: number, params: ReadonlyMap<string, Float32Array>): Promise<void> {
    this.weights.push(new Map([...params].map(([k, v]) => [k, Float32Array.from(v)])));
    return Promise.resolve();
  }
  trainStep(work: StepWork): Promise<StepResult> {
    const n = work.samples.length;
    const grads = new Map([...this.shapes].map(([k, s]) => [k, new Float32Array(s.reduce((a, b) => a * b, 1)).fill(GRAD * n)]));
    return Promise.resolve({
      step: work.step,
      grads,
      weightSum: n,
      lossSum: this.skip.has(work.step) ? Number.NaN : n,
      samples: work.samples.map((s) => ({ id: s.id, loss: 1, weight: 1 })),
      failed: [],
      computeSeconds: 0,
    });
  }
  evaluate(): Promise<EvalResult> {
    return Promise.resolve({ scores: [], failed: [] });
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

describe('learning-rate schedule with gradient accumulation and skipped steps', () => {
  let config: string;
  before(async () => {
    const demo = path.join(tmp, 'demo');
    await writeDemoDataset(demo, { seed: 6, train: 8, test: 0, size: 64 });
    config = path.join(tmp, 'config.yaml');
    // 8 steps of one sample, 2 per optimizer step: 4 optimizer steps, all in warm-up so each has its own lr.
    writeFileSync(
      config,
      tinyConfigYaml({ train: path.join(demo, 'train'), epochs: 1, batchSize: 1, lr: 0.001, checkpointDir: tmp, extra: 'schedule:\n  warmup_steps: 10\n' }).replace(
        'train_decoder:',
        'grad_accumulation: 2\n  train_decoder:',
      ),
    );
  });

  it('reports and applies the same lr per optimizer step; a skipped window end still updates', async () => {
    // Step 1 ends the first window, step 4 starts the third.
    const skip = new Set([1, 4]);
    const p = await prepareRun({ configPath: config, runDir: path.join(tmp, 'run') });
    assert.equal(p.config.train.gradAccumulation, 2);
    const worker = new ScriptedWorker(p.model.shapes, skip);
    const pool = new WorkerPool(1);
    pool.add(worker);
    const events = new RunEvents();
    const reported: { step: number; lr: number; skipped: boolean }[] = [];
    events.on((e) => {
      if (e.kind === 'step') reported.push({ step: e.step, lr: e.lr, skipped: e.skipped });
    });
    const trainer = new Trainer({ config: p.config, model: p.model, run: p.run, runId: 'schedule', pool, trainIds: p.trainIds, testIds: [], events });
    const summary = await trainer.run();
    await pool.closeAll();
    assert.equal(summary.status, 'completed');
    assert.equal(summary.steps, 8);
    assert.equal(summary.skipped_steps, 2);

    const lrOf = (optimizerStep: number): number => (0.001 * (optimizerStep + 1)) / 10;
    assert.deepEqual(
      reported.map((r) => r.skipped),
      [0, 1, 2, 3, 4, 5, 6, 7].map((s) => skip.has(s)),
    );
    reported.forEach((r, i) => assert.ok(Math.abs(r.lr - lrOf(Math.floor(i / 2))) < 1e-12, `step ${r.step} reports lr ${r.lr}, expected ${lrOf(Math.floor(i / 2))}`));

    // The initial weights, then one new version per window before the next step (the last window's
    // update is only saved): the windows with a skipped step update too, and alone.
    assert.equal(worker.weights.length, 4);
    // Each window's mean gradient: GRAD for each step that was not skipped, over the window's 2 steps.
    const windowGrads = [0, 1, 2, 3].map((w) => (GRAD * [2 * w, 2 * w + 1].filter((s) => !skip.has(s)).length) / 2);
    // Adam's step direction m^/(sqrt(v^)+eps) for those gradients (the same in every element); the
    // change of a weight divided by it is the lr that update used.
    const [b1, b2, eps] = [0.9, 0.999, 1e-8];
    let m = 0;
    let v = 0;
    const key = [...p.model.shapes.keys()][0]!;
    windowGrads.slice(0, 3).forEach((g, t) => {
      m = b1 * m + (1 - b1) * g;
      v = b2 * v + (1 - b2) * g * g;
      const direction = m / (1 - b1 ** (t + 1)) / (Math.sqrt(v / (1 - b2 ** (t + 1))) + eps);
      const before = worker.weights[t]!.get(key)!;
      const afterUpdate = worker.weights[t + 1]!.get(key)!;
      for (const i of [0, before.length - 1]) {
        const used = (before[i]! - afterUpdate[i]!) / direction;
        assert.ok(Math.abs(used - lrOf(t)) <= 1e-3 * lrOf(t), `update ${t} (element ${i}) used lr ${used}, expected ${lrOf(t)} as reported`);
      }
    });
  });
});
