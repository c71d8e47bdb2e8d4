// Model features beyond the fixtures' golden outputs: several prompts per encoder pass, the mask
// prompt, a trainable decoder, extra LoRA targets. Uses the smallest fixture variant.

import assert from 'node:assert/strict';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import { modelToBytes } from '../../shared/graph/serialize.js';
import { asFloat32, GraphSession, type Feed, type Fetched } from '../../shared/graph/runtime.js';
import { loadSamCheckpoint, type LoadedCheckpoint } from '../../shared/sam/checkpoint.js';
import { lowResSize } from '../../shared/sam/config.js';
import { defaultLoraSpec, initLora, type LoraSpec } from '../../shared/sam/lora.js';
import { boxPrompt } from '../../shared/sam/preprocess.js';
import { IO, buildDecoderGraph, buildEncoderGraph, buildInferenceGraph, buildTrainingGraph, type SamGraphOptions } from '../../shared/sam/sam_graph.js';
import type { HostTensor } from '../../shared/tensor/host_tensor.js';
import { fixtureDirs, readMeta, type FixtureMeta } from '../helpers/fixtures.js';
import { Rng } from '../helpers/rng.js';
import { fixtureSamples, imageFeed, lossFeeds, loraFeeds, promptFeeds, type Sample } from '../helpers/sam_feeds.js';

const smallest = fixtureDirs()
  .map((d) => ({ d, m: readMeta(d) }))
  .sort((a, b) => a.m.config.img * a.m.config.dim - b.m.config.img * b.m.config.dim)[0];

let ckpt: LoadedCheckpoint;
let meta: FixtureMeta;
let s1: Sample;
let s2: Sample;

async function run(opts: SamGraphOptions, kind: 'train' | 'infer', feeds: Record<string, Feed>): Promise<Record<string, Fetched>> {
  const built = kind === 'train' ? buildTrainingGraph(opts) : buildInferenceGraph(opts);
  const s = await GraphSession.create(modelToBytes(built.graph), { intraOpThreads: 1 });
  try {
    return await s.run(feeds);
  } finally {
    await s.release();
  }
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** LoRA with B non-zero so every adapter changes the output. */
function randomLora(spec: LoraSpec, seed: number): Map<string, HostTensor> {
  const lora = initLora(ckpt.config, spec, seed);
  const rng = new Rng(seed + 1);
  for (const [k, t] of lora) if (k.includes('.b_') || k.endsWith('.lora_b')) t.data.forEach((_, i) => (t.data[i] = 0.05 * rng.normal()));
  return lora;
}

/**
 * Checks gradients of the training graph along a random direction: g . d against the central
 * difference of the loss, with the trainable tensors perturbed as graph inputs.
 */
async function directionalCheck(opts: SamGraphOptions, params: Map<string, HostTensor>, keys: string[], batchFeeds: Record<string, Feed>): Promise<number> {
  const built = buildTrainingGraph(opts);
  const s = await GraphSession.create(modelToBytes(built.graph), { intraOpThreads: 1 });
  const rng = new Rng(7);
  const dir = new Map(keys.map((k) => [k, Float32Array.from(params.get(k)!.data, () => rng.normal())]));
  const feedsAt = (eps: number): Record<string, Feed> => {
    const f: Record<string, Feed> = { ...batchFeeds };
    for (const [k, t] of params) {
      const d = dir.get(k);
      f[k] = { data: d ? Float32Array.from(t.data, (v, i) => v + eps * d[i]!) : t.data, shape: t.shape };
    }
    return f;
  };
  try {
    const base = await s.run(feedsAt(0));
    let analytic = 0;
    for (const k of keys) {
      const g = asFloat32(base, `${IO.gradPrefix}${k}`);
      const d = dir.get(k)!;
      for (let i = 0; i < g.length; i++) analytic += g[i]! * d[i]!;
    }
    const eps = 1e-3;
    const lp = asFloat32(await s.run(feedsAt(eps), [IO.loss]), IO.loss)[0]!;
    const lm = asFloat32(await s.run(feedsAt(-eps), [IO.loss]), IO.loss)[0]!;
    const numeric = (lp - lm) / (2 * eps);
    const rel = Math.abs(numeric - analytic) / Math.max(Math.abs(analytic), 1e-8);
    console.log(JSON.stringify({ check: 'directional derivative', keys: keys.length, analytic, numeric, rel }));
    return rel;
  } finally {
    await s.release();
  }
}

describe('SAM graph features', () => {
  before(async () => {
    assert.ok(smallest, 'no fixture directory found');
    meta = smallest.m;
    ckpt = await loadSamCheckpoint(path.join(smallest.d, 'sam.pth'), { dheads: meta.config.dheads });
    [s1, s2] = await fixtureSamples(smallest.d, meta);
  });

  it('decodes several prompts per image against one encoder pass, as separate runs would', async () => {
    const cfg = ckpt.config;
    const spec = defaultLoraSpec(cfg, 4);
    const lora = randomLora(spec, 3);
    const boxB: [number, number, number, number] = [2, 3, Math.min(40, s1.meta.input_size[1] - 1), Math.min(30, s1.meta.input_size[0] - 1)];
    const base = { config: cfg, state: ckpt.state, lora: spec, promptTokens: 2 };
    const together = await run({ ...base, batch: 1, promptsPerImage: 2 }, 'infer', {
      [IO.images]: imageFeed([s1], cfg.img),
      ...promptFeeds([boxPrompt(s1.box), boxPrompt(boxB)]),
      ...loraFeeds(lora),
    });
    const low = lowResSize(cfg) ** 2;
    for (const [i, box] of [s1.box, boxB].entries()) {
      const alone = await run({ ...base, batch: 1 }, 'infer', { [IO.images]: imageFeed([s1], cfg.img), ...promptFeeds([boxPrompt(box)]), ...loraFeeds(lora) });
      const part = Array.from(asFloat32(together, IO.lowRes)).slice(i * low, (i + 1) * low);
      assert.ok(maxAbsDiff(part, asFloat32(alone, IO.lowRes)) < 1e-4, `prompt ${i} differs from its own run`);
    }
  });

  it('splits into an encoder graph and a decoder graph that reproduce the whole model', async () => {
    const cfg = ckpt.config;
    const spec = { ...defaultLoraSpec(cfg, 2), decoderTargets: ['q_proj' as const] };
    const lora = randomLora(spec, 11);
    const whole = await run({ config: cfg, state: ckpt.state, lora: spec, batch: 1, promptTokens: 2 }, 'infer', {
      [IO.images]: imageFeed([s1], cfg.img),
      ...promptFeeds([boxPrompt(s1.box)]),
      ...loraFeeds(lora),
    });
    const pick = (keys: { key: string }[]): Map<string, HostTensor> => new Map(keys.map(({ key }) => [key, lora.get(key)!]));
    const enc = buildEncoderGraph({ config: cfg, state: ckpt.state, lora: spec, batch: 1 });
    assert.ok(enc.trainable.every((t) => t.key.startsWith('blocks.')), 'encoder graph takes only encoder adapters');
    const es = await GraphSession.create(modelToBytes(enc.graph));
    const emb = asFloat32(await es.run({ [IO.images]: imageFeed([s1], cfg.img), ...loraFeeds(pick(enc.trainable)) }), IO.embeddings);
    await es.release();
    const dec = buildDecoderGraph({ config: cfg, state: ckpt.state, lora: spec, batch: 2, promptTokens: 2 });
    assert.ok(dec.trainable.every((t) => t.key.startsWith('mask_decoder.')), 'decoder graph takes only decoder adapters');
    const ds = await GraphSession.create(modelToBytes(dec.graph));
    const gs = cfg.img / 16;
    const out = await ds.run({ [IO.embeddings]: { data: emb, shape: [1, cfg.pdim, gs, gs] }, ...promptFeeds([boxPrompt(s1.box), boxPrompt(s1.box)]), ...loraFeeds(pick(dec.trainable)) });
    await ds.release();
    const low = lowResSize(cfg) ** 2;
    const both = asFloat32(out, IO.lowRes);
    assert.ok(maxAbsDiff(both.subarray(0, low), asFloat32(whole, IO.lowRes)) < 1e-4);
    assert.ok(maxAbsDiff(both.subarray(low), asFloat32(whole, IO.lowRes)) < 1e-4);
  });

  it('takes a low-res mask prompt, and has_mask_input = 0 falls back to the no-mask embedding', async () => {
    const cfg = ckpt.config;
    const low = lowResSize(cfg);
    const base = { config: cfg, state: ckpt.state, batch: 1, promptTokens: 2 };
    const common = { [IO.images]: imageFeed([s1], cfg.img), ...promptFeeds([boxPrompt(s1.box)]) };
    const plain = await run(base, 'infer', common);
    const mask = Float32Array.from({ length: low * low }, (_, i) => ((i % low) < low / 2 ? 5 : -5));
    const withMask = (has: number): Promise<Record<string, Fetched>> =>
      run({ ...base, maskInput: true }, 'infer', {
        ...common,
        [IO.maskInput]: { data: mask, shape: [1, 1, low, low] },
        [IO.hasMask]: { data: Float32Array.of(has), shape: [1] },
      });
    const off = await withMask(0);
    const on = await withMask(1);
    assert.ok(maxAbsDiff(asFloat32(off, IO.lowRes), asFloat32(plain, IO.lowRes)) < 1e-5, 'has_mask_input = 0 must equal no mask prompt');
    assert.ok(maxAbsDiff(asFloat32(on, IO.lowRes), asFloat32(plain, IO.lowRes)) > 1e-3, 'a mask prompt must change the output');
  });

  it('trains the mask decoder fully when asked: gradient of every decoder tensor, checked along a direction', async () => {
    const cfg = ckpt.config;
    const spec = defaultLoraSpec(cfg, 2);
    const lora = randomLora(spec, 5);
    const opts = { config: cfg, state: ckpt.state, lora: spec, trainDecoder: true, batch: 2, promptTokens: 2 };
    const built = buildTrainingGraph(opts);
    const decoderKeys = built.trainable.map((t) => t.key).filter((k) => k.startsWith('mask_decoder.'));
    const expected = [...ckpt.state.keys()].filter((k) => k.startsWith('mask_decoder.'));
    assert.deepEqual([...decoderKeys].sort(), [...expected].sort());
    const params = new Map([...lora, ...expected.map((k) => [k, ckpt.state.get(k)!] as const)]);
    const batch = { [IO.images]: imageFeed([s1, s2], cfg.img), ...promptFeeds([boxPrompt(s1.box), boxPrompt(s2.box)]), ...lossFeeds([s1, s2], cfg.img) };
    const rel = await directionalCheck(opts, params, decoderKeys, batch);
    assert.ok(rel < 2e-2, `decoder directional derivative off by ${rel}`);
  });

  it('puts adapters on k, proj, MLP and decoder attention projections when asked', async () => {
    const cfg = ckpt.config;
    const spec: LoraSpec = { rank: 2, alpha: 4, blocks: [0, cfg.depth - 1], targets: ['q', 'k', 'v', 'proj', 'lin1', 'lin2'], decoderTargets: ['q_proj', 'k_proj', 'v_proj', 'out_proj'] };
    const lora = randomLora(spec, 9);
    const opts = { config: cfg, state: ckpt.state, lora: spec, batch: 1, promptTokens: 2 };
    const batch = { [IO.images]: imageFeed([s1], cfg.img), ...promptFeeds([boxPrompt(s1.box)]), ...lossFeeds([s1], cfg.img) };
    const keys = [...lora.keys()];
    assert.ok(keys.some((k) => k.startsWith('mask_decoder.')) && keys.some((k) => k.endsWith('b_lin2')));
    const rel = await directionalCheck(opts, lora, keys, batch);
    assert.ok(rel < 2e-2, `LoRA directional derivative off by ${rel}`);
    // With B = 0 every adapter is the identity: outputs equal the plain model's.
    const zeroB = new Map([...lora].map(([k, t]) => [k, k.includes('.b_') || k.endsWith('.lora_b') ? { shape: t.shape, data: new Float32Array(t.data.length) } : t]));
    const withZero = await run(opts, 'train', { ...batch, ...loraFeeds(zeroB) });
    const plain = await run({ ...opts, lora: undefined }, 'train', batch);
    assert.ok(maxAbsDiff(asFloat32(withZero, IO.lowRes), asFloat32(plain, IO.lowRes)) < 1e-5);
  });
});
