// Training helps: a short LoRA run (the demo job's adapter: every image-encoder projection, decoder
// frozen) on the target domain raises the bundled base model's held-out Dice by a stated margin.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { runLocal } from '../../launcher/in_process_run.js';
import { writeDemoDataset } from '../../shared/data/demo_data.js';

/** The least held-out Dice gain asked of the short run below. */
export const DEMO_LORA_MIN_GAIN = 0.05;

const tmp = mkdtempSync(path.join(tmpdir(), 'samlora-demo-lora-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('LoRA on the target domain', () => {
  it(`raises the bundled base model's held-out Dice by at least ${DEMO_LORA_MIN_GAIN}`, async () => {
    const data = path.join(tmp, 'data');
    await writeDemoDataset(data, { seed: 4, train: 48, test: 12, size: 128 });
    const config = path.join(tmp, 'config.yaml');
    writeFileSync(
      config,
      `model: { checkpoint: null }
data: { train: ${path.join(data, 'train')}, test: ${path.join(data, 'test')} }
train: { epochs: 3, batch_size: 4, seed: 2, prompt: { box_jitter: 5 } }
optimizer: { lr: 0.004 }
lora: { rank: 16, targets: [q, k, v, proj, lin1, lin2] }
eval: { interval_epochs: 3 }
checkpoint: { dir: ${path.join(tmp, 'runs')} }
`,
    );
    const s = await runLocal({ configPath: config, runDir: path.join(tmp, 'run') });
    assert.equal(s.status, 'completed');
    assert.equal(s.model.train_decoder, false);
    const gain = s.eval_after!.dice - s.eval_before!.dice;
    console.log(`held-out Dice ${s.eval_before!.dice.toFixed(4)} -> ${s.eval_after!.dice.toFixed(4)}`);
    assert.ok(gain >= DEMO_LORA_MIN_GAIN, `Dice ${s.eval_before!.dice.toFixed(4)} -> ${s.eval_after!.dice.toFixed(4)}`);
  });
});
