// Parity with the original PyTorch SAM: every fixture directory under $SAMLORA_FIXTURES is built
// from its meta.json and compared output by output within the README's tolerances. Training graphs
// use the memory mode in $SAMLORA_MEMORY (none | global | all; default: the configuration's).

import assert from 'node:assert/strict';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { Adam } from '../../coordinator/optimizer/adam.js';
import { modelToBytes, saveModel } from '../../shared/graph/serialize.js';
import { GraphSession, type Feed } from '../../shared/graph/runtime.js';
import { loadSamCheckpoint } from '../../shared/sam/checkpoint.js';
import { lowResSize } from '../../shared/sam/config.js';
import { defaultLoraSpec } from '../../shared/sam/lora.js';
import { DEFAULT_ATTENTION_CHUNK_MB, DEFAULT_MEMORY_MODE, memoryOptions, parseMemoryMode } from '../../shared/sam/memory.js';
import { postprocessMask } from '../../shared/sam/postprocess.js';
import { boxPrompt, pointPrompt } from '../../shared/sam/preprocess.js';
import { IO, buildInferenceGraph, buildTrainingGraph, type SamGraphOptions } from '../../shared/sam/sam_graph.js';
import { readSafetensors } from '../../shared/tensor/safetensors.js';
import type { HostTensor } from '../../shared/tensor/host_tensor.js';
import { fixtureDirs, readMeta, FIXTURES } from '../helpers/fixtures.js';
import { fixtureSamples, imageFeed, lossFeeds, loraFeeds, promptFeeds } from '../helpers/sam_feeds.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';

const MEMORY = memoryOptions(process.env.SAMLORA_MEMORY === undefined ? DEFAULT_MEMORY_MODE : parseMemoryMode(process.env.SAMLORA_MEMORY, 'SAMLORA_MEMORY'), DEFAULT_ATTENTION_CHUNK_MB);

const FWD_TOL = 1e-4;
const GRAD_TOL = 1e-3;

/** max |a - e| / max |e|, and whether it is within tol (plus 1e-5 absolute). */
function compare(name: string, actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number): number {
  assert.equal(actual.length, expected.length, `${name}: ${actual.length} values, expected ${expected.length}`);
  let maxDiff = 0;
  let maxRef = 0;
  for (let i = 0; i < expected.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(actual[i]! - expected[i]!));
    maxRef = Math.max(maxRef, Math.abs(expected[i]!));
  }
  const rel = maxDiff / Math.max(maxRef, 1e-30);
  console.log(JSON.stringify({ check: name, maxRelError: rel }));
  assert.ok(maxDiff <= tol * maxRef + 1e-5, `${name}: max |diff| ${maxDiff} exceeds ${tol} x max |expected| ${maxRef} (+1e-5)`);
  return rel;
}

function get(m: Map<string, HostTensor>, key: string, file: string): HostTensor {
  const t = m.get(key);
  if (!t) throw new Error(`${file}: missing ${key}`);
  return t;
}

/** Creates a session; big models go through a file with external data like production does. */
async function session(opts: SamGraphOptions, kind: 'train' | 'infer', tmp: string): Promise<GraphSession> {
  const built = kind === 'train' ? buildTrainingGraph({ ...opts, memory: MEMORY }) : buildInferenceGraph(opts);
  if (built.graph.initializerBytes() < 64 * 2 ** 20) return GraphSession.create(modelToBytes(built.graph), { intraOpThreads: 2 });
  const file = path.join(tmp, `${kind}_${opts.batch}_${opts.promptTokens}.onnx`);
  saveModel(built.graph, file);
  return GraphSession.create(file, { intraOpThreads: 2 });
}

const dirs = fixtureDirs();

describe('parity with the PyTorch SAM fixtures', () => {
  it(`finds fixture directories under ${FIXTURES}`, () => assert.ok(dirs.length > 0));

  for (const dir of dirs) {
    const name = path.basename(dir);
    it(`${name}: matches PyTorch (forward, loss, LoRA gradients, Adam trajectory; training memory mode ${MEMORY.mode})`, async () => {
      const meta = readMeta(dir);
      const tmp = mkdtempSync(path.join(tmpdir(), 'samlora-parity-'));
      try {
        const ckpt = await loadSamCheckpoint(path.join(dir, 'sam.pth'), { dheads: meta.config.dheads });
        assert.deepEqual(ckpt.config, meta.config, 'config inferred from the checkpoint shapes');
        const cfg = ckpt.config;
        const img = cfg.img;
        const expected = (await readSafetensors(path.join(dir, 'expected.safetensors'))).tensors;
        const pointsExp = (await readSafetensors(path.join(dir, 'expected_points_multimask.safetensors'))).tensors;
        const traj = (await readSafetensors(path.join(dir, 'trajectory.safetensors'))).tensors;
        const loraFile = await readSafetensors(path.join(dir, 'lora.safetensors'));
        const spec = defaultLoraSpec(cfg, meta.rank);
        const f = (file: string): string => path.join(name, file);
        const [s1, s2] = await fixtureSamples(dir, meta);

        // Inference with the box: embeddings, low-res logits, IoU, original-size mask logits.
        const base = { config: cfg, state: ckpt.state, lora: spec };
        const infer = await session({ ...base, batch: 1, promptTokens: 2 }, 'infer', tmp);
        const out = await infer.run({ [IO.images]: imageFeed([s1], img), ...promptFeeds([boxPrompt(s1.box)]), ...loraFeeds(loraFile.tensors) });
        await infer.release();
        compare(`${name} image_embeddings`, out[IO.embeddings]!.data as Float32Array, get(expected, 'image_embeddings', f('expected')).data, FWD_TOL);
        compare(`${name} low_res_logits`, out[IO.lowRes]!.data as Float32Array, get(expected, 'low_res_logits', f('expected')).data, FWD_TOL);
        compare(`${name} iou_predictions`, out[IO.iou]!.data as Float32Array, get(expected, 'iou_predictions', f('expected')).data, FWD_TOL);
        const low = lowResSize(cfg);
        const masks = postprocessMask(out[IO.lowRes]!.data as Float32Array, low, img, s1.meta.input_size, s1.meta.original_size);
        compare(`${name} mask_logits`, masks, get(expected, 'mask_logits', f('expected')).data, FWD_TOL);

        // Points, no box, multimask.
        const pc = get(pointsExp, 'point_coords', f('expected_points_multimask')).data;
        const pl = get(pointsExp, 'point_labels', f('expected_points_multimask')).data;
        const pts: [number, number][] = [];
        for (let i = 0; i < pl.length; i++) pts.push([pc[2 * i]!, pc[2 * i + 1]!]);
        const prompt = pointPrompt(pts, Array.from(pl));
        const multi = await session({ ...base, batch: 1, promptTokens: prompt.count, multimask: true }, 'infer', tmp);
        const mout = await multi.run({ [IO.images]: imageFeed([s1], img), ...promptFeeds([prompt]), ...loraFeeds(loraFile.tensors) });
        await multi.release();
        compare(`${name} points multimask low_res_logits`, mout[IO.lowRes]!.data as Float32Array, get(pointsExp, 'low_res_logits', f('expected_points_multimask')).data, FWD_TOL);
        compare(`${name} points multimask iou_predictions`, mout[IO.iou]!.data as Float32Array, get(pointsExp, 'iou_predictions', f('expected_points_multimask')).data, FWD_TOL);

        // Training graph, sample 1: loss and every LoRA gradient.
        const train1 = await session({ ...base, batch: 1, promptTokens: 2 }, 'train', tmp);
        const t1 = await train1.run({ [IO.images]: imageFeed([s1], img), ...promptFeeds([boxPrompt(s1.box)]), ...lossFeeds([s1], img), ...loraFeeds(loraFile.tensors) });
        await train1.release();
        compare(`${name} loss`, t1[IO.loss]!.data as Float32Array, get(expected, 'loss', f('expected')).data, FWD_TOL);
        let worstGrad = 0;
        for (const key of loraFile.tensors.keys()) {
          const g = t1[`${IO.gradPrefix}${key}`]!.data as Float32Array;
          worstGrad = Math.max(worstGrad, compare(`${name} grad.${key}`, g, get(expected, `grad.${key}`, f('expected')).data, GRAD_TOL));
        }
        console.log(JSON.stringify({ check: `${name} all LoRA gradients`, maxRelError: worstGrad }));

        // Adam trajectory on the batch {sample 1, sample 2} (different sizes: per-sample valid regions).
        const tr = meta.trajectory;
        const train2 = await session({ ...base, batch: 2, promptTokens: 2 }, 'train', tmp);
        const params = new Map([...loraFile.tensors].map(([k, v]) => [k, Float32Array.from(v.data)]));
        const shapes = new Map([...loraFile.tensors].map(([k, v]) => [k, v.shape]));
        const adam = new Adam({ lr: tr.lr, betas: tr.betas, eps: tr.eps, weightDecay: tr.weight_decay });
        const fixed = { [IO.images]: imageFeed([s1, s2], img), ...promptFeeds([boxPrompt(s1.box), boxPrompt(s2.box)]), ...lossFeeds([s1, s2], img) };
        const losses: number[] = [];
        for (let step = 0; step < tr.steps; step++) {
          const feeds: Record<string, Feed> = { ...fixed };
          for (const [k, v] of params) feeds[k] = { data: v, shape: shapes.get(k)! };
          const r = await train2.run(feeds);
          losses.push((r[IO.loss]!.data as Float32Array)[0]!);
          const grads = new Map([...params.keys()].map((k) => [k, r[`${IO.gradPrefix}${k}`]!.data as Float32Array]));
          adam.step(params, grads);
        }
        await train2.release();
        compare(`${name} trajectory losses`, losses, tr.losses, FWD_TOL);
        let worstFinal = 0;
        for (const [k, v] of params) worstFinal = Math.max(worstFinal, compare(`${name} final.${k}`, v, get(traj, `final.${k}`, f('trajectory')).data, GRAD_TOL));
        console.log(JSON.stringify({ check: `${name} all final LoRA weights`, maxRelError: worstFinal }));
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    });
  }
});
