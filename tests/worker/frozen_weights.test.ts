// FrozenWeights and a worker that drops its copy of the frozen SAM weights: after the first training
// step nothing in the worker references them (a WeakRef to one of their arrays clears under gc), and
// evaluation afterwards reads them back and scores exactly as a worker that kept them.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig, type TrainConfig } from '../../shared/config/index.js';
import { runtimeOptions } from '../../shared/contract/runtime_options.js';
import { type ModelSetup, setupModel } from '../../shared/contract/model_setup.js';
import type { EvalWork } from '../../shared/contract/worker_endpoint.js';
import { type Dataset, openDataset } from '../../shared/data/dataset.js';
import { writeDemoDataset } from '../../shared/data/demo_data.js';
import type { StateDict } from '../../shared/sam/params.js';
import { collectGarbage } from '../../worker/collect_garbage.js';
import { FrozenWeights } from '../../worker/frozen_weights.js';
import { LocalWorker } from '../../worker/local_worker.js';
import { tinyConfigYaml } from '../helpers/tiny_config.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'samlora-frozen-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** The loop tests' tiny SAM with both splits, trained decoder, one thread. */
function configYaml(demo: string): string {
  return tinyConfigYaml({ train: path.join(demo, 'train'), test: path.join(demo, 'test'), batchSize: 2, trainDecoder: true, seed: 3, checkpointDir: tmp, extra: 'runtime:\n  threads: 1\n' });
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('FrozenWeights', () => {
  const state: StateDict = new Map([['w', { data: new Float32Array([1, 2]), shape: [2] }]]);

  it('drops the weights on release and reads them back on take', async () => {
    let reads = 0;
    const f = new FrozenWeights(state, () => {
      reads++;
      return Promise.resolve(new Map(state));
    });
    assert.equal(await f.take(), state);
    f.release();
    assert.equal(f.held, false);
    const again = await f.take();
    assert.equal(reads, 1);
    assert.deepEqual([...again.keys()], ['w']);
    assert.equal(await f.take(), again, 'held until released: no second read');
    assert.equal(reads, 1);
  });

  it('keeps weights it cannot read back (shared with the coordinator)', async () => {
    const f = new FrozenWeights(state);
    f.release();
    assert.equal(f.held, true);
    assert.equal(await f.take(), state);
  });
});

describe('LocalWorker with reloadState', () => {
  let config: TrainConfig;
  let model: ModelSetup;
  let train: Dataset;
  let test: Dataset;
  let evalWork: EvalWork;

  before(async () => {
    const demo = path.join(tmp, 'demo');
    await writeDemoDataset(demo, { seed: 4, train: 2, test: 2, size: 64 });
    const file = path.join(tmp, 'frozen.yaml');
    writeFileSync(file, configYaml(demo));
    config = await loadConfig(file);
    model = await setupModel(config);
    train = await openDataset({ path: config.data.train! });
    test = await openDataset({ path: config.data.test! });
    evalWork = { weightsVersion: 0, samples: test.samples.map((s) => ({ id: s.id })) };
  });

  /** A worker whose weights only it holds (a fresh read), and a WeakRef to one of their arrays. */
  async function droppingWorker(reads: { n: number }): Promise<{ worker: LocalWorker; array: WeakRef<Float32Array> }> {
    const state = await model.loadState();
    const array = new WeakRef([...state.values()][0]!.data);
    const reloadState = (): Promise<StateDict> => {
      reads.n++;
      return model.loadState();
    };
    const worker = new LocalWorker({ id: 'dropping', config, model: { sam: model.sam, state, reloadState, spec: model.spec, trainDecoder: model.trainDecoder }, datasets: { train, test }, runtime: runtimeOptions(config) });
    return { worker, array };
  }

  it('holds no frozen weights after a training step, and evaluates after it as a worker that kept them', async () => {
    const reads = { n: 0 };
    const { worker, array } = await droppingWorker(reads);
    const keeping = new LocalWorker({ id: 'keeping', config, model, datasets: { train, test }, runtime: runtimeOptions(config) });
    try {
      const steps = [];
      for (const w of [worker, keeping]) {
        await w.setWeights(0, model.initial);
        steps.push(await w.trainStep({ epoch: 0, step: 0, weightsVersion: 0, samples: train.samples.map((s) => ({ id: s.id })) }));
      }
      assert.equal(steps[0]!.lossSum, steps[1]!.lossSum, 'the same step either way');
      assert.equal(worker.frozen.held, false, 'released once the training session exists');
      await tick();
      collectGarbage();
      assert.equal(array.deref(), undefined, 'a frozen weight array is still referenced after the step');
      assert.equal(reads.n, 0, 'the training step read nothing back');

      const [a, b] = [await worker.evaluate(evalWork), await keeping.evaluate(evalWork)];
      assert.equal(a.failed.length, 0);
      assert.equal(a.scores.length, 2);
      assert.deepEqual(a, b, 'evaluation with weights read back scores exactly as with the originals');
      assert.equal(reads.n, 1, 'the evaluation graphs read the weights back once');
      assert.equal(worker.frozen.held, false, 'released again once the evaluation sessions exist');
      await worker.evaluate(evalWork);
      assert.equal(reads.n, 1, 'a second evaluation reuses its sessions');
      assert.equal(keeping.frozen.held, true, 'a worker without reloadState keeps the shared weights');
    } finally {
      await worker.close();
      await keeping.close();
    }
  });
});
