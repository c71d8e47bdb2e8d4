import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { checkStateDict, expectedShapes, inferConfig, loadSamCheckpoint, readStateDict } from '../../shared/sam/checkpoint.js';
import { VARIANTS } from '../../shared/sam/config.js';
import type { HostTensor } from '../../shared/tensor/host_tensor.js';
import { encodeSafetensors } from '../../shared/tensor/safetensors.js';
import { fixtureDirs, readMeta } from '../helpers/fixtures.js';

/** A state_dict with the right shapes and no data: inference only looks at shapes. */
function shapesOnly(shapes: Map<string, number[]>): Map<string, HostTensor> {
  return new Map([...shapes].map(([k, s]) => [k, { shape: s, data: new Float32Array(0) }]));
}

const tmp = mkdtempSync(path.join(tmpdir(), 'samlora-ckpt-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('checkpoint', () => {
  for (const [name, cfg] of Object.entries(VARIANTS)) {
    it(`infers ${name} from the official checkpoint's shapes`, () => {
      assert.deepEqual(inferConfig(shapesOnly(expectedShapes(cfg)), `${name}.pth`), cfg);
    });
  }

  for (const dir of fixtureDirs()) {
    it(`infers the ${path.basename(dir)} fixture's config from its sam.pth (decoder heads from meta)`, async () => {
      const meta = readMeta(dir);
      const loaded = await loadSamCheckpoint(path.join(dir, 'sam.pth'), { dheads: meta.config.dheads });
      assert.deepEqual(loaded.config, meta.config);
    });
  }

  it('lists every missing, unexpected and mis-shaped key in one error naming the file', () => {
    const cfg = VARIANTS.vit_b;
    const state = shapesOnly(expectedShapes(cfg));
    state.delete('image_encoder.blocks.3.mlp.lin1.bias');
    state.delete('mask_decoder.iou_token.weight');
    state.set('image_encoder.extra.weight', { shape: [1], data: new Float32Array(0) });
    state.set('mask_decoder.mask_tokens.weight', { shape: [3, 256], data: new Float32Array(0) });
    assert.throws(
      () => checkStateDict(state, cfg, 'my_sam.pth'),
      (e: Error) =>
        /my_sam\.pth/.test(e.message) &&
        /missing keys: .*image_encoder\.blocks\.3\.mlp\.lin1\.bias.*mask_decoder\.iou_token\.weight/.test(e.message) &&
        /unexpected keys: image_encoder\.extra\.weight/.test(e.message) &&
        /mis-shaped keys: mask_decoder\.mask_tokens\.weight \[3, 256\] \(model wants \[4, 256\]\)/.test(e.message),
    );
  });

  it('reads safetensors checkpoints as well as .pth, by content', async () => {
    const dir = fixtureDirs()[0]!;
    const fromPth = await readStateDict(path.join(dir, 'sam.pth'));
    const file = path.join(tmp, 'sam.bin');
    writeFileSync(file, encodeSafetensors(fromPth));
    const fromSt = await readStateDict(file);
    assert.deepEqual([...fromSt.keys()].sort(), [...fromPth.keys()].sort());
    const key = 'image_encoder.pos_embed';
    assert.deepEqual(fromSt.get(key)!.data, fromPth.get(key)!.data);
  });

  it('says a file is not a SAM checkpoint when the SAM keys are absent', async () => {
    const file = path.join(tmp, 'other.safetensors');
    writeFileSync(file, encodeSafetensors(new Map([['foo', { shape: [2], data: new Float32Array(2) }]])));
    await assert.rejects(loadSamCheckpoint(file), /other\.safetensors: not a SAM checkpoint, missing "image_encoder\.patch_embed\.proj\.weight"/);
  });

  it('names a missing file', async () => {
    await assert.rejects(loadSamCheckpoint(path.join(tmp, 'nope.pth')), /nope\.pth: cannot open \(ENOENT\)/);
  });
});

describe('checkpoint files that are not what they claim', () => {
  const write = (name: string, bytes: Uint8Array): string => {
    const file = path.join(tmp, name);
    writeFileSync(file, bytes);
    return file;
  };

  it('an empty .pth is called empty, not an invalid safetensors file', async () => {
    const file = write('empty.pth', new Uint8Array(0));
    await assert.rejects(readStateDict(file), new RegExp(`^Error: checkpoint ${file}: the file is empty \\(0 bytes\\)`));
  });

  it('a legacy torch.save file is called legacy', async () => {
    const file = write('legacy.pth', Uint8Array.from([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc]));
    await assert.rejects(readStateDict(file), /legacy \(pre-1\.6, non-zip\) torch\.save format is not supported/);
  });

  it('a .pth that is neither zip nor safetensors gets the .pth reader error', async () => {
    const file = write('junk.pth', new TextEncoder().encode('not a checkpoint'));
    await assert.rejects(readStateDict(file), /invalid PyTorch checkpoint: not a zip archive/);
  });

  it('non-finite weights are refused naming the tensor', async () => {
    const bad = new Float32Array(6);
    bad[4] = Number.NEGATIVE_INFINITY;
    const file = write('inf.safetensors', encodeSafetensors({ 'image_encoder.pos_embed': { shape: [2, 3], data: bad } }));
    await assert.rejects(readStateDict(file), new RegExp(`checkpoint ${file}: tensor "image_encoder\\.pos_embed" holds a non-finite value \\(-Infinity at element 4\\)`));
  });
});
