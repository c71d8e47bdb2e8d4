// runtime.precision: fp16 through the real training loop (coordinator/loss_scaling.ts and the
// trainer's use of it, in-process workers running real fp16 graphs on the CPU): the demo job in
// fp16 tracks fp32; an overflow in one worker skips the step for every worker, halves the scale
// and evicts nobody; the scale doubles after growth_interval good steps; it survives a checkpoint.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { lossScalerFor } from '../../coordinator/loss_scaling.js';
import { createRunMetrics } from '../../coordinator/metrics/run_metrics.js';
import { type LocalRunOptions, prepareRun, trainerFor } from '../../coordinator/prepare_run.js';
import { type RunEvent, RunEvents } from '../../coordinator/run_events.js';
import type { Summary } from '../../coordinator/trainer.js';
import { WorkerPool } from '../../coordinator/worker_pool.js';
import { runLocal } from '../../launcher/in_process_run.js';
import { loadConfig } from '../../shared/config/index.js';
import { runtimeOptions } from '../../shared/contract/runtime_options.js';
import type { StepWork, WorkerEndpoint } from '../../shared/contract/worker_endpoint.js';
import { writeDemoDataset } from '../../shared/data/demo_data.js';
import { parseExposition } from '../../shared/prometheus/exposition.js';
import { LocalWorker } from '../../worker/local_worker.js';
import { valueOf } from '../helpers/scrape.js';
import { tinyConfigYaml } from '../helpers/tiny_config.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'samlora-fp16-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

type StepEvent = Extract<RunEvent, { kind: 'step' }>;

/** Runs prepareRun's run over in-process workers wrapped by `wrap`; returns the summary, the step events and what each worker was asked. */
async function run(o: LocalRunOptions & { workers?: number; wrap?: (w: WorkerEndpoint, i: number) => WorkerEndpoint }): Promise<{ summary: Summary; steps: StepEvent[]; asked: StepWork[][]; events: RunEvents }> {
  const events = o.events ?? new RunEvents();
  const steps: StepEvent[] = [];
  events.on((e) => void (e.kind === 'step' && steps.push(e)));
  const p = await prepareRun({ ...o, events });
  const pool = WorkerPool.forwarding(1, events);
  const asked: StepWork[][] = [];
  for (let i = 0; i < (o.workers ?? 1); i++) {
    const local = new LocalWorker({ id: `local-${i}`, config: p.config, model: p.model, datasets: { train: p.train }, runtime: runtimeOptions(p.config) });
    const seen: StepWork[] = [];
    asked.push(seen);
    const recording: WorkerEndpoint = {
      id: local.id,
      placement: local.placement,
      setWeights: (v, params) => local.setWeights(v, params),
      trainStep: (work) => (seen.push(work), local.trainStep(work)),
      evaluate: (work, split) => local.evaluate(work, split),
      close: () => local.close(),
    };
    pool.add(o.wrap ? o.wrap(recording, i) : recording);
  }
  try {
    return { summary: await trainerFor(p, pool, { ...o, events }).run(), steps, asked, events };
  } finally {
    await pool.closeAll();
  }
}

describe('fp16 training: the demo job against fp32', () => {
  let train: string;
  before(async () => {
    train = path.join(tmp, 'demo');
    await writeDemoDataset(train, { seed: 0, train: 50, test: 0 });
  });

  // The embedded demo job (the bundled small SAM, its LoRA, train.memory all), 50 steps of one image
  // each: fp16 on the CPU is ~13x slower than fp32 (no fp16 kernels for most ops). The scale starts
  // where this job does not overflow (the default 2^16 overflows once, at step 10): a skipped step
  // leaves fp16 one update behind fp32 for good, and the comparison would measure that, not fp16.
  // Overflows and the scale's halving and growth are the next suite's.
  const STEPS = 50;
  const SCALE = 8192;
  const losses = async (precision: 'fp32' | 'fp16'): Promise<{ summary: Summary; steps: StepEvent[] }> =>
    run({
      overrides: { 'data.train': path.join(train, 'train'), 'data.test': 'null', 'train.batch_size': '1', 'runtime.precision': precision, 'runtime.loss_scale.initial': String(SCALE), 'runtime.threads': '1', 'checkpoint.dir': tmp },
      runDir: path.join(tmp, `demo-${precision}`),
      maxSteps: STEPS,
    });

  it(`${STEPS} steps from loss scale ${SCALE}: every step's loss within 5% of fp32's, the mean of the last 10 within 2%, no overflow`, { timeout: 300_000 }, async (t) => {
    const f32 = await losses('fp32');
    const f16 = await losses('fp16');
    assert.equal(f16.steps.length, STEPS);
    const l32 = f32.steps.map((s) => s.loss);
    const l16 = f16.steps.map((s) => s.loss);
    const rel = l16.map((l, i) => Math.abs(l - l32[i]!) / l32[i]!);
    const worst = Math.max(...rel);
    const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
    const tail = Math.abs(mean(l16.slice(-10)) - mean(l32.slice(-10))) / mean(l32.slice(-10));
    t.diagnostic(`fp32 loss, mean of first/last 10: ${mean(l32.slice(0, 10)).toFixed(4)} / ${mean(l32.slice(-10)).toFixed(4)}; fp16 worst step ${worst.toExponential(2)}, last-10 mean ${tail.toExponential(2)}`);
    t.diagnostic(`fp16 scales: ${[...new Set(f16.steps.map((s) => s.lossScale))].join(' ')}; overflows at steps ${f16.steps.filter((s) => s.overflow).map((s) => s.step).join(' ') || 'none'}`);
    rel.forEach((r, i) => assert.ok(r <= 0.05, `step ${i + 1}: fp16 ${l16[i]} vs fp32 ${l32[i]}`));
    assert.ok(tail <= 0.02, `last-10 mean differs by ${tail}`);
    // Every fp16 step carries the scale; fp32 steps carry none.
    assert.ok(f16.steps.every((s) => typeof s.lossScale === 'number' && s.lossScale >= 1));
    assert.ok(f32.steps.every((s) => s.lossScale === undefined && s.overflow === undefined));
    // No step skipped: the two runs took the same updates.
    assert.equal(f16.summary.skipped_steps, 0);
    assert.ok(f16.steps.every((s) => !s.overflow));
  });
});

describe('fp16 training: overflows and the scale', () => {
  let train: string;
  const config = (name: string, extra: string): string => {
    const file = path.join(tmp, `${name}.yaml`);
    writeFileSync(file, tinyConfigYaml({ train, test: null, epochs: 1, batchSize: 2, checkpointDir: tmp, extra: `runtime:\n  precision: fp16\n${extra}` }));
    return file;
  };
  before(async () => {
    const demo = path.join(tmp, 'tiny-demo');
    await writeDemoDataset(demo, { seed: 3, train: 16, test: 0, size: 80 });
    train = path.join(demo, 'train');
  });

  it('an overflow in one worker skips the step for both, halves the scale, evicts nobody; growth_interval good steps double it', { timeout: 120_000 }, async () => {
    const events = new RunEvents();
    const metrics = createRunMetrics(events, { requiredWorkers: 2, processMetrics: false });
    // Worker 1 runs step 2 with the scale times 2^20: its real fp16 graph overflows and says so.
    const INJECT_AT = 2;
    const r = await run({
      configPath: config('inject', '  loss_scale: { initial: 1024, growth_interval: 2 }\n'),
      runDir: path.join(tmp, 'inject'),
      workers: 2,
      events,
      wrap: (w, i) => (i === 1 ? { ...w, trainStep: (work) => w.trainStep(work.step === INJECT_AT ? { ...work, lossScale: work.lossScale! * 2 ** 20 } : work) } : w),
    });
    const { summary, steps, asked } = r;
    assert.equal(summary.status, 'completed');
    assert.equal(summary.evictions, 0, 'an overflow is not a worker failure');
    assert.equal(summary.skipped_steps, 1);
    assert.equal(steps.length, 8);
    // Scales after each step: 1024 -> 2048 after 2 good steps; the overflow at step 3 (0-based 2) halves it; 2 good steps double it back.
    assert.deepEqual(
      steps.map((s) => [s.step, s.lossScale, s.overflow, s.skipped]),
      [
        [1, 1024, false, false],
        [2, 2048, false, false],
        [3, 1024, true, true],
        [4, 1024, false, false],
        [5, 2048, false, false],
        [6, 2048, false, false],
        [7, 4096, false, false],
        [8, 4096, false, false],
      ],
    );
    // Every step went to both workers with the scale before it (worker 1 recorded the injected one at step 3).
    const scalesAsked = [1024, 1024, 2048, 1024, 1024, 2048, 2048, 4096];
    assert.deepEqual(asked[0]!.map((w) => w.lossScale), scalesAsked);
    assert.deepEqual(asked[1]!.map((w) => w.lossScale), scalesAsked.map((x, i) => (i === INJECT_AT ? x * 2 ** 20 : x)));
    // The skipped step changed no weights: step 4 ran on the version step 3 ran on.
    assert.equal(asked[0]![3]!.weightsVersion, asked[0]![2]!.weightsVersion);
    assert.equal(asked[0]![2]!.weightsVersion, asked[0]![1]!.weightsVersion + 1);
    const f = parseExposition(await metrics.registry.metrics());
    assert.equal(valueOf(f, 'samlora_loss_scale'), 4096);
    assert.equal(valueOf(f, 'samlora_overflow_steps_total'), 1);
    assert.equal(valueOf(f, 'samlora_skipped_steps_total'), 1);
    const log = readFileSync(path.join(tmp, 'inject', 'train.log'), 'utf8');
    assert.match(log, /step 2: skipped \(fp16 overflow at loss scale 2048; the scale is now 1024\)/);
  });

  it('a real overflow from too large an initial scale: halved until the gradients fit, not counted towards max_skipped_steps', { timeout: 120_000 }, async (t) => {
    // 2^24 overflows the tiny model's fp16 backward; train.max_skipped_steps 2 would stop a run on 2 ordinary skips in a row.
    const { summary, steps } = await run({ configPath: config('too-large', '  loss_scale: { initial: 16777216 }\n'), overrides: { 'train.max_skipped_steps': '2' }, runDir: path.join(tmp, 'too-large'), maxSteps: 8 });
    const overflows = steps.filter((s) => s.overflow);
    t.diagnostic(`scales after each step: ${steps.map((s) => `${s.lossScale}${s.overflow ? '!' : ''}`).join(' ')} (! = overflow)`);
    assert.ok(overflows.length >= 2, `expected several overflows at 2^24, got ${overflows.length}`);
    assert.notEqual(summary.status, 'failed');
    assert.equal(summary.evictions, 0);
    // Each overflow halved the scale it ran with (the one after the step before).
    steps.forEach((s, i) => {
      const before = i === 0 ? 2 ** 24 : steps[i - 1]!.lossScale!;
      if (s.overflow) assert.equal(s.lossScale, before / 2, `step ${s.step}`);
    });
    assert.ok(steps.some((s) => !s.skipped), 'the run trains once the scale fits');
  });

  it('the scale is saved in checkpoints and restored on resume; a bad saved state is refused naming state.json', { timeout: 120_000 }, async () => {
    const file = config('resume', '  loss_scale: { initial: 1024, growth_interval: 3 }\n');
    const runDir = path.join(tmp, 'resume');
    const first = await run({ configPath: file, runDir, maxSteps: 4 });
    assert.equal(first.summary.status, 'stopped');
    assert.equal(first.steps.at(-1)!.lossScale, 2048);
    const latest = (JSON.parse(readFileSync(path.join(runDir, 'checkpoints', 'latest.json'), 'utf8')) as { checkpoint: string }).checkpoint;
    const stateFile = path.join(runDir, 'checkpoints', latest, 'state.json');
    const state = JSON.parse(readFileSync(stateFile, 'utf8')) as { lossScaler?: unknown };
    assert.deepEqual(state.lossScaler, { scale: 2048, goodSteps: 1, skipped: 0 });
    // The resumed run asks its workers for 2048 and doubles after 2 more good steps (1 + 2 = 3).
    const second = await run({ configPath: file, runDir, resume: true, maxSteps: 2 });
    assert.deepEqual(second.asked[0]!.map((w) => w.lossScale), [2048, 2048]);
    assert.deepEqual(second.steps.map((s) => s.lossScale), [2048, 4096]);
    // A hostile state.json: refused before any step, naming the file.
    writeFileSync(stateFile, JSON.stringify({ ...state, lossScaler: { scale: -1, goodSteps: 0, skipped: 0 } }));
    writeFileSync(path.join(runDir, 'checkpoints', 'latest.json'), JSON.stringify({ checkpoint: latest }));
    await assert.rejects(runLocal({ configPath: file, runDir, resume: true }), /state\.json: lossScaler: loss scaler: invalid state/);
  });

  it('lossScalerFor: none for fp32; a saved state that is not an object is refused', async () => {
    const fp32 = await loadConfig(undefined, { 'data.train': train });
    assert.equal(lossScalerFor(fp32), undefined);
    const fp16 = await loadConfig(undefined, { 'data.train': train, 'runtime.precision': 'fp16', 'runtime.loss_scale.initial': '256' });
    assert.equal(lossScalerFor(fp16)!.scale, 256);
    assert.equal(lossScalerFor(fp16, { scale: 64, goodSteps: 5, skipped: 2 })!.scale, 64);
    assert.throws(() => lossScalerFor(fp16, 'big', 'ckpt/state.json'), /ckpt\/state\.json: lossScaler is "big", not an object/);
  });
});
