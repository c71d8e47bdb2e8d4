// A checkpoint whose Adam moments hold Inf (as builds before non-finite updates were refused wrote
// after one huge gradient) would resume a run that never moves again: --resume refuses it, naming
// the tensor, and says to use an earlier checkpoint.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, it } from 'node:test';
import { runLocal } from '../../launcher/in_process_run.js';
import { writeDemoDataset } from '../../shared/data/demo_data.js';
import { readSafetensors, writeSafetensors } from '../../shared/tensor/safetensors.js';
import { tinyConfigYaml } from '../helpers/tiny_config.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'samlora-nonfinite-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

it('--resume refuses a checkpoint with an infinite second moment', async () => {
  const demo = path.join(tmp, 'demo');
  await writeDemoDataset(demo, { seed: 2, train: 4, test: 0, size: 64 });
  const config = path.join(tmp, 'config.yaml');
  writeFileSync(config, tinyConfigYaml({ train: path.join(demo, 'train'), test: null, checkpointDir: tmp }));
  const runDir = path.join(tmp, 'run');
  const first = await runLocal({ configPath: config, runDir, maxSteps: 1 });
  assert.equal(first.status, 'stopped');
  const latest = (JSON.parse(readFileSync(path.join(runDir, 'checkpoints', 'latest.json'), 'utf8')) as { checkpoint: string }).checkpoint;
  const file = path.join(runDir, 'checkpoints', latest, 'optimizer.safetensors');
  const opt = await readSafetensors(file);
  const [victim] = [...opt.tensors.keys()].filter((k) => k.startsWith('v.'));
  assert.ok(victim, 'the checkpoint has second moments');
  const tensors = new Map([...opt.tensors].map(([k, t]) => [k, { shape: t.shape, data: k === victim ? new Float32Array(t.data.length).fill(Number.POSITIVE_INFINITY) : t.data }]));
  await writeSafetensors(file, tensors, opt.metadata);
  await assert.rejects(runLocal({ configPath: config, runDir, resume: true }), (e: Error) => {
    assert.match(e.message, /non-finite/);
    assert.ok(e.message.includes(victim.slice(2)), `names the tensor: ${e.message}`);
    return true;
  });
});
