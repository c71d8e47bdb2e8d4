// The model hook: checks that need the model's SamConfig (LoRA blocks against the encoder depth, a
// declared variant against the checkpoint), run at load time when the config pins the model.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, TINY_VARIANT, applyOverrides, checkModelFit, declaredModelConfig, loadConfig, loraSpecFor, modelFitProblems, parseConfigText } from '../../shared/config/index.js';
import { VARIANTS } from '../../shared/sam/config.js';
import { initLora } from '../../shared/sam/lora.js';
import { loadLora, saveLora } from '../../shared/sam/lora_io.js';
import { REFERENCE_CONFIG, makeProject } from './project.js';

const VIT_B = { ...VARIANTS.vit_b, dheads: 8 };
const VIT_L = { ...VARIANTS.vit_l, dheads: 8 };

describe('model fit', () => {
  it('auto variant: blocks are checked once the checkpoint is known', async () => {
    const p = makeProject();
    const file = p.write('config.yaml', `${REFERENCE_CONFIG}lora:\n  blocks: [0, 11, 23]\n`);
    const c = await loadConfig(file);
    assert.equal(declaredModelConfig(c.model), null);
    checkModelFit(c, VIT_L);
    assert.throws(
      () => checkModelFit(c, VIT_B),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        assert.equal(e.file, file);
        assert.deepEqual(e.problems, [{ key: 'lora.blocks[2]', message: "block 23 is outside 0..11 (the model's image encoder has 12 blocks)" }]);
        assert.ok(e.message.includes(file));
        return true;
      },
    );
  });

  it('a declared variant must match the checkpoint', async () => {
    const p = makeProject();
    const c = applyOverrides(await loadConfig(p.write('config.yaml', REFERENCE_CONFIG)), { 'model.variant': 'vit_l' });
    checkModelFit(c, VIT_L);
    assert.throws(() => checkModelFit(c, VIT_B), /model\.variant: vit_l \(dim 1024, depth 24.*\) does not match the checkpoint \(dim 768, depth 12.*: vit_b\)/);
  });

  it('loraSpecFor expands "all" and keeps alpha', async () => {
    const p = makeProject();
    // Rank 128: the decoder's cross-attention layers are 128 wide (512 is refused with decoder targets).
    const c = await loadConfig(p.write('config.yaml', REFERENCE_CONFIG), { 'lora.rank': '128', 'lora.alpha': '1024', 'lora.decoder_targets': '[out_proj]' });
    assert.deepEqual(loraSpecFor(c, VIT_B), {
      rank: 128,
      alpha: 1024,
      blocks: [...Array(12).keys()],
      targets: ['q', 'v'],
      decoderTargets: ['out_proj'],
    });
  });

  it('loraSpecFor: decoder adapters alone (no encoder targets) give a spec with no encoder blocks, one a LoRA file can hold', async () => {
    const c = await loadConfig(undefined, { 'lora.targets': '[]', 'lora.decoder_targets': '[q_proj, v_proj]' });
    const model = declaredModelConfig(c.model)!;
    const spec = loraSpecFor(c, model);
    assert.deepEqual(spec.blocks, []);
    assert.deepEqual(spec.targets, []);
    const dir = mkdtempSync(path.join(tmpdir(), 'samlora-decoder-only-'));
    try {
      const file = path.join(dir, 'lora.safetensors');
      await saveLora(file, initLora(model, spec, 0), spec, 'native');
      assert.deepEqual((await loadLora(file)).spec.decoderTargets, ['q_proj', 'v_proj']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a pinned model is checked at load: custom fields, decoder heads, blocks', async () => {
    const c = await loadConfig(undefined, { 'lora.blocks': '[0, 3]' });
    assert.deepEqual(declaredModelConfig(c.model), { ...TINY_VARIANT, dheads: 8 });
    assert.deepEqual(loraSpecFor(c, declaredModelConfig(c.model)!).blocks, [0, 3]);

    const bad = async (overrides: Record<string, string>): Promise<ConfigError> => {
      try {
        await loadConfig(undefined, overrides);
      } catch (e) {
        assert.ok(e instanceof ConfigError);
        return e;
      }
      assert.fail('expected a ConfigError');
    };
    assert.deepEqual((await bad({ 'lora.blocks': '[4]' })).problems.map((q) => q.key), ['lora.blocks[0]']);
    assert.match((await bad({ 'model.decoder_heads': '3' })).message, /model\.decoder_heads: 3 heads do not divide the decoder's attention width 32/);
    const custom = '{dim: 30, depth: 2, heads: 4, glob: [1], img: 64, window: 2, pdim: 32, dmlp: 64, iouh: 32}';
    assert.match((await bad({ 'model.variant': custom })).message, /model\.variant: inconsistent custom variant: dim 30 is not divisible by heads 4/);
    assert.deepEqual((await bad({ 'model.variant': '{dim: 32}' })).problems.map((q) => q.key).sort(), [
      'model.variant.depth',
      'model.variant.dmlp',
      'model.variant.glob',
      'model.variant.heads',
      'model.variant.img',
      'model.variant.iouh',
      'model.variant.pdim',
      'model.variant.window',
    ]);
  });
});

describe('LoRA rank against the layer widths', () => {
  it('refuses a rank above the encoder width when the variant is known from the config', () => {
    const text = 'model:\n  checkpoint: null\ndata:\n  train: null\nlora:\n  rank: 65\n';
    assert.throws(() => parseConfigText(text, '/cfg/wide.yaml', { checkPaths: false }), /\/cfg\/wide\.yaml:6:9: lora\.rank: rank 65 is larger than the image encoder's width 64/);
    assert.equal(parseConfigText(text.replace('65', '64'), '/cfg/ok.yaml', { checkPaths: false }).lora.rank, 64);
  });

  it('uses the decoder attention width when only decoder targets are adapted', () => {
    const text = 'model:\n  checkpoint: null\ndata:\n  train: null\nlora:\n  rank: 40\n  targets: []\n  decoder_targets: [q_proj]\n';
    assert.throws(() => parseConfigText(text, '/cfg/dec.yaml', { checkPaths: false }), /rank 40 is larger than the mask decoder's attention width 32/);
  });

  it('checkModelFit refuses it once the checkpoint is read', () => {
    const config = parseConfigText('model:\n  checkpoint: null\ndata:\n  train: null\nlora:\n  rank: 512\n', '/cfg/r.yaml', { checkPaths: false, overrides: { 'model.variant': 'vit_b' } });
    assert.deepEqual(modelFitProblems(config, { ...VARIANTS.vit_b, dim: 256, dheads: 8 }).map((p) => p.key), ['model.variant', 'lora.rank']);
  });
});
