import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { loadBaseModel } from '../../../tools/evaluation/eval_model.js';
import { defaultTestSplit } from '../../../tools/evaluation/run_eval.js';
import { writeTinyConfig } from './tiny_model.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'samlora-runeval-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('eval test split', () => {
  it("is the config's data.test when set", async () => {
    const test = path.join(tmp, 'given');
    mkdirSync(test);
    const cfg = writeTinyConfig(tmp, 'given', { test });
    assert.equal(defaultTestSplit(await loadBaseModel({ configPath: cfg }), cfg), test);
  });

  it("is a demo run's generated demo-data/test, beside a run's config.yaml or two levels above a checkpoint's", async () => {
    const run = path.join(tmp, 'run');
    const ckpt = path.join(run, 'checkpoints', 'final');
    mkdirSync(path.join(run, 'demo-data', 'test'), { recursive: true });
    mkdirSync(ckpt, { recursive: true });
    for (const dir of [run, ckpt]) {
      const cfg = writeTinyConfig(dir, 'config');
      assert.equal(defaultTestSplit(await loadBaseModel({ configPath: cfg }), cfg), path.join(run, 'demo-data', 'test'));
    }
    const lone = writeTinyConfig(tmp, 'lone');
    assert.equal(defaultTestSplit(await loadBaseModel({ configPath: lone }), lone), null);
  });
});
