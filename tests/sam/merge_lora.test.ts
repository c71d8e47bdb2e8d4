// Merging LoRA into the SAM weights: the update lands in the right rows with the right scale, and
// the merged model (no adapter inputs) computes what the LoRA model computes.

import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { asFloat32, type Feed, type Fetched, GraphSession } from '../../shared/graph/runtime.js';
import { modelToBytes } from '../../shared/graph/serialize.js';
import type { LoraSpec } from '../../shared/sam/lora.js';
import { mergeLora, mergeTargets } from '../../shared/sam/merge_lora.js';
import { pointPrompt } from '../../shared/sam/preprocess.js';
import { IO, buildInferenceGraph, type SamGraphOptions } from '../../shared/sam/sam_graph.js';
import { Rng } from '../helpers/rng.js';
import { promptFeeds } from '../helpers/sam_feeds.js';
import { EXPORT_TOLERANCE, type SmallModel, fullSpec, randomLora, relErr, smallModel } from '../helpers/small_model.js';

let model: SmallModel;
before(async () => {
  model = await smallModel();
});

async function infer(opts: SamGraphOptions, feeds: Record<string, Feed>): Promise<Record<string, Fetched>> {
  const s = await GraphSession.create(modelToBytes(buildInferenceGraph(opts).graph), { intraOpThreads: 1 });
  try {
    return await s.run(feeds);
  } finally {
    await s.release();
  }
}

function randomImage(img: number, seed: number): Feed {
  const rng = new Rng(seed);
  return { data: Float32Array.from({ length: 3 * img * img }, () => rng.normal()), shape: [1, 3, img, img] };
}

describe('mergeLora', () => {
  it('adds (alpha / rank) B A to the q / k / v row blocks of the fused qkv weight and to proj, lin1, lin2', () => {
    const cfg = model.config;
    const c = cfg.dim;
    const spec: LoraSpec = { rank: 2, alpha: 6, blocks: [0], targets: ['q', 'v', 'lin1'] };
    const lora = randomLora(cfg, spec, 11);
    const params = new Map([...lora].map(([k, t]) => [k, t.data]));
    const merged = mergeLora(cfg, model.state, spec, params);
    assert.deepEqual(
      mergeTargets(cfg, spec).map((t) => [t.weightKey, t.rowOffset]),
      [
        ['image_encoder.blocks.0.attn.qkv.weight', 0],
        ['image_encoder.blocks.0.attn.qkv.weight', 2 * c],
        ['image_encoder.blocks.0.mlp.lin1.weight', 0],
      ],
    );
    const qkvKey = 'image_encoder.blocks.0.attn.qkv.weight';
    const w0 = model.state.get(qkvKey)!.data;
    const w1 = merged.get(qkvKey)!.data;
    const [aq, bq, av, bv] = ['a_q', 'b_q', 'a_v', 'b_v'].map((n) => lora.get(`blocks.0.${n}`)!.data);
    const update = (a: Float32Array, b: Float32Array, o: number, i: number): number => 3 * (b[o * 2]! * a[i]! + b[o * 2 + 1]! * a[c + i]!);
    let worst = 0;
    for (let o = 0; o < 3 * c; o++) {
      for (let i = 0; i < c; i++) {
        const expected = w0[o * c + i]! + (o < c ? update(aq!, bq!, o, i) : o >= 2 * c ? update(av!, bv!, o - 2 * c, i) : 0);
        worst = Math.max(worst, Math.abs(w1[o * c + i]! - expected));
      }
    }
    assert.ok(worst < 1e-6, `qkv rows off by ${worst}`);
    for (let i = c * c; i < 2 * c * c; i++) assert.equal(w1[i], w0[i], 'k rows unchanged');
    // Untouched tensors are shared, adapted ones copied: the base state never changes.
    assert.equal(merged.get('image_encoder.blocks.0.attn.proj.weight'), model.state.get('image_encoder.blocks.0.attn.proj.weight'));
    assert.notEqual(merged.get(qkvKey)!.data, w0);
    assert.equal(merged.size, model.state.size);
  });

  it('the merged model computes what the LoRA model computes (embeddings, masks, IoU), every target, decoder replaced', async () => {
    const cfg = model.config;
    const spec = fullSpec(cfg);
    const lora = randomLora(cfg, spec, 21);
    // A trained decoder (decoder.safetensors): every mask_decoder.* weight, perturbed.
    const rng = new Rng(5);
    const decoder = new Map<string, Float32Array>();
    for (const [k, t] of model.state) if (k.startsWith('mask_decoder.')) decoder.set(k, Float32Array.from(t.data, (v) => v + 0.02 * rng.normal()));
    const params = new Map<string, Float32Array>([...decoder, ...[...lora].map(([k, t]): [string, Float32Array] => [k, t.data])]);

    const tokens = pointPrompt([[cfg.img * 0.4, cfg.img * 0.3]], [1], [cfg.img * 0.2, cfg.img * 0.1, cfg.img * 0.7, cfg.img * 0.6]);
    const common = { config: cfg, batch: 1, promptTokens: tokens.count, multimask: true };
    const feeds: Record<string, Feed> = { [IO.images]: randomImage(cfg.img, 3), ...promptFeeds([tokens]) };
    const runtimeFeeds: Record<string, Feed> = {};
    for (const [k, v] of params) runtimeFeeds[k] = { data: v, shape: (lora.get(k) ?? model.state.get(k)!).shape };

    const withLora = await infer({ ...common, state: model.state, lora: spec, trainDecoder: true }, { ...feeds, ...runtimeFeeds });
    const merged = await infer({ ...common, state: mergeLora(cfg, model.state, spec, params) }, feeds);
    const base = await infer({ ...common, state: model.state }, feeds);
    for (const name of [IO.embeddings, IO.lowRes, IO.iou]) {
      const ref = asFloat32(withLora, name);
      const err = relErr(asFloat32(merged, name), ref);
      console.log(JSON.stringify({ output: name, relErr: err, baseRelErr: relErr(asFloat32(base, name), ref) }));
      assert.ok(err <= EXPORT_TOLERANCE, `${name}: merged vs LoRA model relative error ${err}`);
      // The LoRA really changes the model, so the comparison above could fail.
      assert.ok(relErr(asFloat32(base, name), ref) > 100 * EXPORT_TOLERANCE, `${name}: the LoRA barely changes the model`);
    }
  });

  it('without a spec only replaces fed decoder weights and shares every other tensor', () => {
    const cfg = model.config;
    const key = 'mask_decoder.iou_token.weight';
    const replaced = new Float32Array(model.state.get(key)!.data.length).fill(0.5);
    const merged = mergeLora(cfg, model.state, null, new Map([[key, replaced]]));
    assert.equal(merged.get(key)!.data, replaced);
    assert.notEqual(model.state.get(key)!.data, replaced);
    const same = mergeLora(cfg, model.state, null, new Map());
    for (const [k, t] of model.state) assert.equal(same.get(k), t);
    assert.throws(() => mergeLora(cfg, model.state, null, new Map([[key, new Float32Array(3)]])), /iou_token.weight has 3 values/);
  });
});
