// How long the main thread's event loop pauses during a training step: in-process (ORT blocks it
// for most of the step) and in the compute thread (target: under 200 ms, so heartbeats and metrics
// keep flowing). One JSON line on stdout; the target is reported, not enforced.
// With --reduce: the same measure for the coordinator's gradient reduction (coordinator/reduce.ts)
// of --workers results of --mb MB each (in 64 tensors), in one pass and in slices.
//
// node dist/bench/event_loop_gap.js
// node dist/bench/event_loop_gap.js --reduce [--mb 16] [--workers 8] [--repeat 3]

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { loadConfig } from '../shared/config/index.js';
import { setupModel } from '../shared/contract/model_setup.js';
import { runtimeOptions } from '../shared/contract/runtime_options.js';
import { openDataset } from '../shared/data/dataset.js';
import { writeDemoDataset } from '../shared/data/demo_data.js';
import { parseArgs } from 'node:util';
import { reduceResults, reduceResultsSliced } from '../coordinator/reduce.js';
import type { StepResult } from '../shared/contract/worker_endpoint.js';
import { errorWithStack } from '../shared/errors/error_message.js';
import { ThreadedWorker } from '../worker/compute_thread.js';
import { LocalWorker } from '../worker/local_worker.js';
import { withTicks } from '../tests/helpers/event_loop_ticks.js';
import { threadStepConfigYaml } from '../tests/helpers/thread_step_config.js';

/** The longest pause of the main thread's loop we accept while the compute thread runs a step. */
export const TARGET_THREAD_MAX_GAP_MS = 200;

/** The event loop's longest pause while reducing `workers` results of `mb` MB: one pass, then in slices (best of `repeat`). */
async function reduceGap(mb: number, workers: number, repeat: number): Promise<void> {
  const tensors = 64;
  const per = Math.round((mb * 1024 * 1024) / 4 / tensors);
  const shapes = new Map<string, readonly number[]>(Array.from({ length: tensors }, (_, i) => [`t${i}`, [per]]));
  const results: StepResult[] = Array.from({ length: workers }, (_, w) => ({
    step: 0,
    grads: new Map([...shapes.keys()].map((k, i) => [k, Float32Array.from({ length: per }, (_, j) => Math.sin(w * 131 + i * 17 + j) * 1e-3)])),
    weightSum: 1,
    lossSum: 1,
    samples: [],
    failed: [],
    computeSeconds: 0,
  }));
  const into = reduceResults(results, shapes).grads;
  const one = [];
  const sliced = [];
  for (let r = 0; r < repeat; r++) {
    one.push(await withTicks(() => Promise.resolve(reduceResults(results, shapes, into))));
    sliced.push(await withTicks(() => reduceResultsSliced(results, shapes, into)));
  }
  const best = (xs: { maxGapMs: number; wallMs: number }[]): { max_gap_ms: number; wall_ms: number } => {
    const b = xs.reduce((a, x) => (x.maxGapMs < a.maxGapMs ? x : a));
    return { max_gap_ms: Math.round(b.maxGapMs), wall_ms: Math.round(b.wallMs) };
  };
  process.stdout.write(`${JSON.stringify({ bench: 'event_loop_gap_reduce', mb_per_worker: mb, workers, tensors, one_pass: best(one), sliced: best(sliced) })}\n`);
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { reduce: { type: 'boolean' }, mb: { type: 'string' }, workers: { type: 'string' }, repeat: { type: 'string' } } });
  if (values.reduce) return reduceGap(Number(values.mb ?? 16), Number(values.workers ?? 8), Number(values.repeat ?? 3));
  const tmp = mkdtempSync(path.join(tmpdir(), 'samlora-loopgap-'));
  try {
    const demo = path.join(tmp, 'demo');
    await writeDemoDataset(demo, { seed: 1, train: 4, test: 2, size: 256 });
    const configFile = path.join(tmp, 'thread.yaml');
    writeFileSync(configFile, threadStepConfigYaml(demo, tmp));
    const config = await loadConfig(configFile);
    const model = await setupModel(config);
    const train = await openDataset({ path: config.data.train! });
    const work = { epoch: 0, step: 0, weightsVersion: 0, samples: train.samples.map((s) => ({ id: s.id })) };
    const local = new LocalWorker({ id: 'local', config, model, datasets: { train }, runtime: runtimeOptions(config) });
    const threaded = await ThreadedWorker.start({ id: 'threaded', config, test: null });
    try {
      await local.setWeights(0, model.initial);
      await threaded.setWeights(0, model.initial);
      const inProcess = await withTicks(() => local.trainStep(work));
      const thread = await withTicks(() => threaded.trainStep(work));
      const result = {
        bench: 'event_loop_gap',
        in_process: { step_ms: Math.round(inProcess.wallMs), max_gap_ms: Math.round(inProcess.maxGapMs), ticks: inProcess.ticks },
        thread: { step_ms: Math.round(thread.wallMs), max_gap_ms: Math.round(thread.maxGapMs), ticks: thread.ticks },
        target_thread_max_gap_ms: TARGET_THREAD_MAX_GAP_MS,
        target_met: thread.maxGapMs < TARGET_THREAD_MAX_GAP_MS,
      };
      process.stdout.write(`${JSON.stringify(result)}\n`);
    } finally {
      await local.close();
      await threaded.close();
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`event_loop_gap: ${errorWithStack(err)}\n`);
  process.exitCode = 1;
});
