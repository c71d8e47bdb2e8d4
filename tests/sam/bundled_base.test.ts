// The committed base model (models/sam_tiny_pretrained.safetensors): its size, its shape, and its
// quality on its own (source) domain, evaluated here rather than read from its metadata.

import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { describe, it } from 'node:test';
import { scoreSourceDomain } from '../../pretrain/pretrain.js';
import { PRETRAIN_RECIPE, pretrainVariant } from '../../pretrain/recipe.js';
import { bundledBasePath } from '../../shared/sam/bundled_base.js';
import { loadSamCheckpoint } from '../../shared/sam/checkpoint.js';

/** What the committed file must reach on 48 source test images (README records 96 images). */
export const BUNDLED_SOURCE_DICE_MIN = 0.72;

describe('bundled base model', () => {
  it('is at most 10 MB, the embedded variant, and segments its own domain from box prompts with IoU predictions that track the real IoU', async () => {
    const file = bundledBasePath();
    assert.ok(statSync(file).size <= 10 * 2 ** 20, `${file} is ${statSync(file).size} bytes`);
    const loaded = await loadSamCheckpoint(file, { dheads: 8 });
    const want = pretrainVariant();
    assert.deepEqual([loaded.config.dim, loaded.config.depth, loaded.config.img, loaded.config.pdim], [want.dim, want.depth, want.img, want.pdim]);
    const state = new Map([...loaded.state].map(([k, t]) => [k, { shape: [...t.shape], data: t.data }]));
    const e = await scoreSourceDomain(loaded.config, state, { seed: PRETRAIN_RECIPE.evalSeed, images: 48, batch: 8 });
    assert.ok(e.dice >= BUNDLED_SOURCE_DICE_MIN, `source Dice ${e.dice}`);
    assert.ok(e.meanPredictedIou > 0.3, `mean predicted IoU ${e.meanPredictedIou}`);
    assert.ok(e.iouCorrelation > 0.5, `IoU correlation ${e.iouCorrelation}`);
  });
});
