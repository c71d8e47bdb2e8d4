import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { initialPretrainState } from '../../pretrain/initial_weights.js';
import { pretrain } from '../../pretrain/pretrain.js';
import type { SamConfig } from '../../shared/sam/config.js';

// A small variant (64 px, 2 blocks) so the recipe runs in seconds; the recipe itself is the real one.
const SMALL: SamConfig = { dim: 32, depth: 2, heads: 2, glob: [1], img: 64, window: 2, pdim: 32, dmlp: 64, dheads: 2, iouh: 32 };

describe('pretrain', () => {
  it('runs the whole recipe (boxes, points, refinements with the mask fed back) and its loss falls', async () => {
    const state = initialPretrainState(SMALL, 5);
    const before = new Map([...state].map(([k, t]) => [k, Float32Array.from(t.data)]));
    const lines: string[] = [];
    const r = await pretrain({ cfg: SMALL, state, seed: 5, batches: 75, batch: 4, refinements: 1, lr: 2e-3, minLr: 1e-4, warmup: 10, weightDecay: 0.01, evalEvery: 0, evalImages: 8, threads: 1, log: (l) => lines.push(l) });
    assert.equal(r.losses.length, 3, 'one loss per 25 batches');
    assert.ok(r.losses.every((l) => Number.isFinite(l.loss)));
    assert.ok(r.losses[2]!.loss < 0.85 * r.losses[0]!.loss, `loss ${r.losses.map((l) => l.loss.toFixed(3)).join(' -> ')}`);
    const changed = [...state].filter(([k, t]) => t.data.some((v, i) => v !== before.get(k)![i])).map(([k]) => k);
    // Every weight bound in the graph trains: encoder, prompt encoder (incl. the mask path), decoder.
    for (const key of ['image_encoder.blocks.0.attn.qkv.weight', 'prompt_encoder.point_embeddings.1.weight', 'prompt_encoder.mask_downscaling.0.weight', 'mask_decoder.iou_prediction_head.layers.0.weight']) {
      assert.ok(changed.includes(key), `${key} did not train`);
    }
    // Read on the host, not bound in the graph: stays as initialised.
    assert.ok(!changed.includes('image_encoder.blocks.0.attn.rel_pos_h'));
    assert.equal(r.evals.length, 1);
    assert.ok(Number.isFinite(r.evals[0]!.dice) && Number.isFinite(r.evals[0]!.iouCorrelation));
    assert.ok(lines.some((l) => l.startsWith('batch 75/75')));
  });
});
