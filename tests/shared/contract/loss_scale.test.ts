// A step's loss scale against the worker's graph (shared/contract/loss_scale.ts): an fp16 graph needs
// a finite positive one, an fp32 graph none; a worker refuses a mismatched step before any work.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { loadConfig } from '../../../shared/config/index.js';
import { lossScaleProblem } from '../../../shared/contract/loss_scale.js';
import { setupModel } from '../../../shared/contract/model_setup.js';
import { runtimeOptions } from '../../../shared/contract/runtime_options.js';
import { LocalWorker } from '../../../worker/local_worker.js';
import { tinyConfigYaml } from '../../helpers/tiny_config.js';

describe('lossScaleProblem', () => {
  it('accepts a finite positive scale for fp16 and none for fp32', () => {
    assert.equal(lossScaleProblem('fp16', 65536), undefined);
    assert.equal(lossScaleProblem('fp16', 0.5), undefined);
    assert.equal(lossScaleProblem('fp32', undefined), undefined);
  });
  it('names what is wrong otherwise', () => {
    assert.match(lossScaleProblem('fp16', undefined)!, /no loss scale for an fp16 training graph/);
    assert.match(lossScaleProblem('fp32', 1024)!, /a loss scale \(1024\) for an fp32 training graph/);
    for (const bad of [0, -2, Number.NaN, Number.POSITIVE_INFINITY]) assert.match(lossScaleProblem('fp16', bad)!, /is not a finite positive number/);
  });
});

const tmp = mkdtempSync(path.join(tmpdir(), 'samlora-loss-scale-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('a worker and the loss scale of a step', () => {
  it('refuses a step whose scale does not fit its graph, before loading any sample', async () => {
    for (const precision of ['fp32', 'fp16'] as const) {
      const file = path.join(tmp, `${precision}.yaml`);
      writeFileSync(file, tinyConfigYaml({ train: tmp, checkpointDir: tmp, extra: `runtime:\n  precision: ${precision}\n` }));
      const config = await loadConfig(file, {});
      const model = await setupModel(config);
      const w = new LocalWorker({ id: 'w', config, model: { sam: model.sam, state: model.state, spec: model.spec, trainDecoder: model.trainDecoder }, datasets: {}, runtime: runtimeOptions(config) });
      await w.setWeights(1, model.initial);
      // The sample does not exist: a step that got past the scale check would report it as failed instead.
      const work = { epoch: 0, step: 7, weightsVersion: 1, samples: [{ id: 'missing' }] };
      const wrong = precision === 'fp16' ? work : { ...work, lossScale: 1024 };
      await assert.rejects(w.trainStep(wrong), precision === 'fp16' ? /worker w: step 7: no loss scale for an fp16 training graph/ : /worker w: step 7: a loss scale \(1024\) for an fp32 training graph/);
      if (precision === 'fp16') await assert.rejects(w.trainStep({ ...work, lossScale: Number.NaN }), /loss scale NaN is not a finite positive number/);
      await w.close();
    }
  });
});
