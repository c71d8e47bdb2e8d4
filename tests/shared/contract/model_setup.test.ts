// ModelSetup.loadState: reads the same frozen weights again (a checkpoint, or seeded generated
// weights), and refuses a checkpoint file that changed since it was first read.

import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { loadConfig } from '../../../shared/config/index.js';
import { setupModel } from '../../../shared/contract/model_setup.js';
import type { StateDict } from '../../../shared/sam/params.js';
import { FIXTURES } from '../../helpers/fixtures.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'samlora-setup-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function assertSameWeights(a: StateDict, b: StateDict): void {
  assert.deepEqual([...b.keys()], [...a.keys()]);
  for (const [k, t] of a) {
    const u = b.get(k)!;
    assert.notEqual(u.data, t.data, `${k}: a fresh copy`);
    assert.deepEqual(u.shape, t.shape);
    assert.ok(Buffer.from(u.data.buffer, u.data.byteOffset, u.data.byteLength).equals(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength)), `${k}: other values`);
  }
}

async function setup(model: string): Promise<Awaited<ReturnType<typeof setupModel>>> {
  const file = path.join(tmp, 'c.yaml');
  writeFileSync(file, `model:\n${model}data:\n  train: ${tmp}\ntrain:\n  seed: 7\ncheckpoint:\n  dir: ${tmp}\n`);
  return setupModel(await loadConfig(file));
}

describe('ModelSetup.loadState', () => {
  it('regenerates the same seeded weights', async () => {
    const m = await setup('  checkpoint: null\n  variant: { dim: 32, depth: 2, heads: 2, glob: [1], img: 64, window: 4, pdim: 32, dmlp: 64, iouh: 32 }\n  decoder_heads: 2\n');
    assertSameWeights(m.state, await m.loadState());
  });

  it('reads the checkpoint again, and refuses it once the file changed', async () => {
    const ckpt = path.join(tmp, 'sam.pth');
    copyFileSync(path.join(FIXTURES, 'sam-tiny', 'sam.pth'), ckpt);
    const m = await setup(`  checkpoint: ${ckpt}\n  decoder_heads: 2\n`);
    assertSameWeights(m.state, await m.loadState());
    utimesSync(ckpt, new Date(), new Date(Date.now() + 60_000));
    await assert.rejects(m.loadState(), new RegExp(`${ckpt.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: the checkpoint changed on disk`));
  });
});
