// LocalWorker and train.micro_batch: a share of three images run as three batch-1 session runs, as
// one run of a batch-3 graph, or as two runs of a batch-2 graph (the last padded with a zero-weight
// copy) gives the same gradients, losses and weights.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig, type TrainConfig } from '../../shared/config/index.js';
import { runtimeOptions } from '../../shared/contract/runtime_options.js';
import { type ModelSetup, setupModel } from '../../shared/contract/model_setup.js';
import type { StepResult, StepWork } from '../../shared/contract/worker_endpoint.js';
import { type Dataset, openDataset } from '../../shared/data/dataset.js';
import { writeDemoDataset } from '../../shared/data/demo_data.js';
import { LocalWorker } from '../../worker/local_worker.js';
import { tinyConfigYaml } from '../helpers/tiny_config.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'samlora-microbatch-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** The loop tests' tiny SAM (recomputing every block, the default memory mode), trained decoder, one thread. */
function configYaml(demo: string): string {
  return tinyConfigYaml({ train: path.join(demo, 'train'), batchSize: 3, trainDecoder: true, seed: 5, checkpointDir: tmp, extra: 'runtime:\n  threads: 1\n' });
}

const maxAbs = (a: Float32Array): number => a.reduce((m, x) => Math.max(m, Math.abs(x)), 0);

/** Whether b equals a within 1e-5 of a's largest element, or 1e-6 of the largest gradient of all (`floor`). */
function close(a: Float32Array, b: Float32Array, floor: number): { ok: boolean; diff: number } {
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
  return { ok: diff <= 1e-5 * maxAbs(a) + 1e-6 * floor, diff };
}

describe('LocalWorker with train.micro_batch', () => {
  let config: TrainConfig;
  let model: ModelSetup;
  let train: Dataset;
  let work: StepWork;
  const results = new Map<number, StepResult>();

  before(async () => {
    const demo = path.join(tmp, 'demo');
    await writeDemoDataset(demo, { seed: 2, train: 3, test: 0, size: 64 });
    const file = path.join(tmp, 'micro.yaml');
    writeFileSync(file, configYaml(demo));
    config = await loadConfig(file);
    model = await setupModel(config);
    train = await openDataset({ path: config.data.train! });
    // LoRA's B starts at zero, which leaves A's gradient zero: set it so that every gradient is tested.
    const params = new Map([...model.initial].map(([k, v]) => [k, k.includes('.b_') ? v.map((_, i) => 0.01 * Math.sin(i + 1)) : v]));
    work = { epoch: 0, step: 0, weightsVersion: 0, samples: train.samples.map((s) => ({ id: s.id })) };
    for (const microBatch of [1, 2, 3]) {
      const c = { ...config, train: { ...config.train, microBatch } };
      const w = new LocalWorker({ id: `mb${microBatch}`, config: c, model, datasets: { train }, runtime: runtimeOptions(c) });
      try {
        await w.setWeights(0, params);
        results.set(microBatch, await w.trainStep(work));
      } finally {
        await w.close();
      }
    }
  });

  it('defaults to one image per session run', () => {
    assert.equal(config.train.microBatch, 1);
  });

  for (const microBatch of [2, 3]) {
    it(`micro_batch ${microBatch} (${microBatch === 2 ? 'a padded last run' : 'the whole share in one run'}) gives micro_batch 1's gradients`, () => {
      const a = results.get(1)!;
      const b = results.get(microBatch)!;
      assert.equal(a.samples.length, 3);
      assert.deepEqual(b.samples.map((s) => [s.id, s.weight]), a.samples.map((s) => [s.id, s.weight]), 'no padding copy is reported');
      assert.equal(b.weightSum, a.weightSum);
      assert.ok(Math.abs(b.lossSum - a.lossSum) <= 1e-5 * Math.abs(a.lossSum), `loss sum ${b.lossSum} vs ${a.lossSum}`);
      b.samples.forEach((s, i) => assert.ok(Math.abs(s.loss - a.samples[i]!.loss) <= 1e-5 * Math.abs(a.samples[i]!.loss), `${s.id}: loss ${s.loss} vs ${a.samples[i]!.loss}`));
      assert.deepEqual([...b.grads.keys()], [...a.grads.keys()]);
      // The floor: a gradient that is zero in exact arithmetic (the decoder's key biases: softmax does
      // not see a shift common to every key) is rounding noise of 1e-10 in both.
      const floor = Math.max(...[...a.grads.values()].map(maxAbs));
      let bitsDiffer = false;
      for (const [k, g] of a.grads) {
        const h = b.grads.get(k)!;
        // The encoder adapters' gradients pass through every block (decoder heads of unused mask outputs get none).
        if (k.startsWith('blocks.')) assert.ok(g.some((x) => x !== 0), `${k}: a gradient that is all zero proves nothing`);
        const c = close(g, h, floor);
        assert.ok(c.ok, `${k}: gradients differ by ${c.diff.toExponential(2)} (largest element ${maxAbs(g).toExponential(2)})`);
        bitsDiffer ||= g.some((x, i) => x !== h[i]);
      }
      // Summation in another order: the setting reached the graph (the same graph would give the same bits).
      assert.ok(bitsDiffer, 'bit-identical gradients: the micro-batch setting did not change the session runs');
    });
  }
});
