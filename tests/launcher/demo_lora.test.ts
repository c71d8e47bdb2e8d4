// Training helps: a short run of the demo job's configuration (its adapter and optimizer settings,
// tests/helpers/short_demo_lora.ts) on the target domain raises the bundled base model's held-out
// Dice by a stated margin, and leaves the mask decoder's own weights alone (adapters only).

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { trainShortDemoLora } from '../helpers/short_demo_lora.js';

/** The least held-out Dice gain asked of the short run below. */
export const DEMO_LORA_MIN_GAIN = 0.15;

const tmp = mkdtempSync(path.join(tmpdir(), 'samlora-demo-lora-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('LoRA on the target domain', () => {
  it(`raises the bundled base model's held-out Dice by at least ${DEMO_LORA_MIN_GAIN}`, async () => {
    const { summary: s } = await trainShortDemoLora(tmp);
    assert.equal(s.model.train_decoder, false);
    const gain = s.eval_after!.dice - s.eval_before!.dice;
    console.log(`held-out Dice ${s.eval_before!.dice.toFixed(4)} -> ${s.eval_after!.dice.toFixed(4)}`);
    assert.ok(gain >= DEMO_LORA_MIN_GAIN, `Dice ${s.eval_before!.dice.toFixed(4)} -> ${s.eval_after!.dice.toFixed(4)}`);
  });
});
