import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sessionForGraph } from '../../shared/graph/session_factory.js';
import { asFloat32 } from '../../shared/graph/runtime.js';
import type { SamConfig } from '../../shared/sam/config.js';
import { generateStateDict } from '../../shared/sam/generated_weights.js';
import { boxPrompt, pointPrompt } from '../../shared/sam/preprocess.js';
import { PRETRAIN_IO, buildPretrainGraph } from '../../shared/sam/pretrain_graph.js';
import { IO } from '../../shared/sam/sam_graph.js';
import { Rng } from '../../shared/random/rng.js';

const SMALL: SamConfig = { dim: 32, depth: 2, heads: 2, glob: [1], img: 64, window: 2, pdim: 32, dmlp: 64, dheads: 2, iouh: 32 };

describe('pretraining graph', () => {
  it('takes the best multimask loss for ambiguous prompts, token 0 otherwise, plus the IoU MSE against the real IoU', async () => {
    const state = generateStateDict(SMALL, 3);
    const { graph, trainable } = buildPretrainGraph({ config: SMALL, state, batch: 2, promptTokens: 2 });
    assert.ok(trainable.length > 50, 'every bound weight is trained');
    const session = await sessionForGraph(graph);
    const rng = new Rng(4);
    const img = SMALL.img;
    const images = Float32Array.from({ length: 2 * 3 * img * img }, () => rng.uniform(-2, 2));
    const gt = new Float32Array(2 * img * img);
    for (let y = 10; y < 40; y++) for (let x = 12; x < 50; x++) gt[y * img + x] = gt[img * img + y * img + x] = 1;
    const point = pointPrompt([[20, 20]], [1]);
    const box = boxPrompt([12, 10, 49, 39]);
    const feeds: Record<string, { data: Float32Array; shape: number[] }> = {
      [IO.images]: { data: images, shape: [2, 3, img, img] },
      [IO.coords]: { data: Float32Array.from([...point.coords, ...box.coords]), shape: [2, 2, 2] },
      [IO.labels]: { data: Float32Array.from([...point.labelsOneHot, ...box.labelsOneHot]), shape: [2, 2, 5] },
      [IO.gt]: { data: gt, shape: [2, img, img] },
      [IO.valid]: { data: new Float32Array(2 * img * img).fill(1), shape: [2, img, img] },
      [IO.weights]: { data: Float32Array.from([0.5, 0.5]), shape: [2] },
      [PRETRAIN_IO.multimask]: { data: Float32Array.from([1, 0]), shape: [2] },
    };
    for (const t of trainable) feeds[t.key] = { data: state.get(t.key)!.data, shape: [...t.shape] };
    const out = await session.run(feeds);
    const mask = asFloat32(out, PRETRAIN_IO.maskLoss);
    const target = asFloat32(out, PRETRAIN_IO.iouTarget);
    const iou = asFloat32(out, IO.iou);
    const perSample = asFloat32(out, IO.perSample);
    const mse = (b: number): number => [0, 1, 2, 3].reduce((s, t) => s + (iou[b * 4 + t]! - target[b * 4 + t]!) ** 2, 0) / 4;
    const close = (a: number, b: number): void => assert.ok(Math.abs(a - b) < 1e-4 * Math.max(1, Math.abs(b)), `${a} vs ${b}`);
    close(perSample[0]!, Math.min(mask[1]!, mask[2]!, mask[3]!) + mse(0));
    close(perSample[1]!, mask[4]! + mse(1));
    close(asFloat32(out, IO.loss)[0]!, 0.5 * perSample[0]! + 0.5 * perSample[1]!);
    for (const v of target) assert.ok(v >= 0 && v <= 1);
    for (const [k, v] of Object.entries(out)) if (k.startsWith(IO.gradPrefix)) assert.ok((v.data as Float32Array).every(Number.isFinite), k);
    await session.release();
  });
});
