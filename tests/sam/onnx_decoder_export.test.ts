// The exported decoder (official SAM ONNX interface) in a plain onnxruntime-node InferenceSession,
// against our own decoder graph and host postprocessing: interface, dynamic point count, the
// single-mask choice, orig_im_size, padding points and the mask prompt.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { getPreprocessShape } from '../../shared/data/transforms/resize_longest_side.js';
import { asFloat32, GraphSession } from '../../shared/graph/runtime.js';
import { modelToBytes, saveModel } from '../../shared/graph/serialize.js';
import { gridSize, lowResSize } from '../../shared/sam/config.js';
import { ONNX_DECODER_INPUTS, ONNX_DECODER_OUTPUTS, buildOnnxDecoderGraph } from '../../shared/sam/onnx_decoder_export.js';
import { postprocessMask } from '../../shared/sam/postprocess.js';
import { type PromptTokens, boxPrompt, pointPrompt } from '../../shared/sam/preprocess.js';
import { IO, buildDecoderGraph } from '../../shared/sam/sam_graph.js';
import { Rng } from '../helpers/rng.js';
import { promptFeeds } from '../helpers/sam_feeds.js';
import { EXPORT_TOLERANCE, type SmallModel, relErr, smallModel } from '../helpers/small_model.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'samlora-onnxdec-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

let model: SmallModel;
let session: ort.InferenceSession;
let embeddings: Float32Array;

interface Official {
  masks: Float32Array;
  dims: readonly number[];
  iou: Float32Array;
  lowRes: Float32Array;
}

interface Ours {
  lowRes: Float32Array;
  iou: Float32Array;
}

/** The official decoder's feeds: points / box corners with their labels, as SAM front ends send them. */
async function official(coords: readonly [number, number][], labels: readonly number[], orig: [number, number], mask?: Float32Array, hasMask = 0): Promise<Official> {
  const low = lowResSize(model.config);
  const g = gridSize(model.config);
  const n = coords.length;
  const r = await session.run({
    image_embeddings: new ort.Tensor('float32', embeddings, [1, model.config.pdim, g, g]),
    point_coords: new ort.Tensor('float32', Float32Array.from(coords.flat()), [1, n, 2]),
    point_labels: new ort.Tensor('float32', Float32Array.from(labels), [1, n]),
    mask_input: new ort.Tensor('float32', mask ?? new Float32Array(low * low), [1, 1, low, low]),
    has_mask_input: new ort.Tensor('float32', Float32Array.from([hasMask]), [1]),
    orig_im_size: new ort.Tensor('float32', Float32Array.from(orig), [2]),
  });
  const f = (name: string): Float32Array => r[name]!.data as Float32Array;
  return { masks: f('masks'), dims: r.masks!.dims, iou: f('iou_predictions'), lowRes: f('low_res_masks') };
}

/** Our decoder graph (the one predict / eval use) with the mask prompt inputs. */
async function ours(tokens: PromptTokens, multimask: boolean, mask?: Float32Array, hasMask = 0): Promise<Ours> {
  const cfg = model.config;
  const low = lowResSize(cfg);
  const g = gridSize(cfg);
  const built = buildDecoderGraph({ config: cfg, state: model.state, batch: 1, promptTokens: tokens.count, multimask, maskInput: true });
  const s = await GraphSession.create(modelToBytes(built.graph), { intraOpThreads: 1 });
  try {
    const r = await s.run({
      [IO.embeddings]: { data: embeddings, shape: [1, cfg.pdim, g, g] },
      ...promptFeeds([tokens]),
      [IO.maskInput]: { data: mask ?? new Float32Array(low * low), shape: [1, 1, low, low] },
      [IO.hasMask]: { data: Float32Array.from([hasMask]), shape: [1] },
    });
    return { lowRes: asFloat32(r, IO.lowRes), iou: asFloat32(r, IO.iou) };
  } finally {
    await s.release();
  }
}

/** Mask m of ours, as SAM's postprocess_masks makes it for an image of size orig. */
function ourMask(o: Ours, m: number, orig: [number, number]): Float32Array {
  const cfg = model.config;
  const low = lowResSize(cfg);
  const inputSize = getPreprocessShape(orig[0], orig[1], cfg.img);
  return postprocessMask(o.lowRes.subarray(m * low * low, (m + 1) * low * low), low, cfg.img, inputSize, orig);
}

function argmax(v: Float32Array): number {
  return v.reduce((best, x, i) => (x > v[best]! ? i : best), 0);
}

function assertClose(actual: Float32Array, expected: Float32Array, what: string): void {
  const err = relErr(actual, expected);
  assert.ok(err <= EXPORT_TOLERANCE, `${what}: relative error ${err}`);
}

/** The exported model matches ours with mask token `m`. */
function assertMatches(off: Official, o: Ours, m: number, orig: [number, number], what: string): void {
  const low = lowResSize(model.config);
  assert.deepEqual(off.dims, [1, 1, orig[0], orig[1]], `${what}: masks dims`);
  assertClose(off.lowRes, o.lowRes.subarray(m * low * low, (m + 1) * low * low), `${what}: low_res_masks`);
  assertClose(off.iou, o.iou.subarray(m, m + 1), `${what}: iou_predictions`);
  assertClose(off.masks, ourMask(o, m, orig), `${what}: masks`);
}

before(async () => {
  model = await smallModel();
  const file = path.join(tmp, 'decoder.onnx');
  saveModel(buildOnnxDecoderGraph(model.config, model.state), file);
  session = await ort.InferenceSession.create(file, { intraOpNumThreads: 1 });
  const rng = new Rng(9);
  const g = gridSize(model.config);
  embeddings = Float32Array.from({ length: model.config.pdim * g * g }, () => rng.normal());
});
after(async () => {
  await session?.release();
});

describe('the exported SAM ONNX decoder', () => {
  it('has the official inputs and outputs: names, order, float32, ranks, num_points dynamic', () => {
    const cfg = model.config;
    const g = gridSize(cfg);
    const low = lowResSize(cfg);
    assert.deepEqual(session.inputNames, [...ONNX_DECODER_INPUTS]);
    assert.deepEqual(session.outputNames, [...ONNX_DECODER_OUTPUTS]);
    assert.deepEqual([...ONNX_DECODER_INPUTS], ['image_embeddings', 'point_coords', 'point_labels', 'mask_input', 'has_mask_input', 'orig_im_size']);
    assert.deepEqual([...ONNX_DECODER_OUTPUTS], ['masks', 'iou_predictions', 'low_res_masks']);
    const meta = (list: readonly ort.InferenceSession.ValueMetadata[]): { name: string; type: string; shape: readonly (number | string)[] }[] =>
      list.map((v) => {
        assert.ok(v.isTensor, v.name);
        return { name: v.name, type: v.type, shape: v.shape };
      });
    assert.deepEqual(meta(session.inputMetadata), [
      { name: 'image_embeddings', type: 'float32', shape: [1, cfg.pdim, g, g] },
      { name: 'point_coords', type: 'float32', shape: [1, 'num_points', 2] },
      { name: 'point_labels', type: 'float32', shape: [1, 'num_points'] },
      { name: 'mask_input', type: 'float32', shape: [1, 1, low, low] },
      { name: 'has_mask_input', type: 'float32', shape: [1] },
      { name: 'orig_im_size', type: 'float32', shape: [2] },
    ]);
    assert.deepEqual(meta(session.outputMetadata), [
      { name: 'masks', type: 'float32', shape: [1, 1, 'orig_height', 'orig_width'] },
      { name: 'iou_predictions', type: 'float32', shape: [1, 1] },
      { name: 'low_res_masks', type: 'float32', shape: [1, 1, low, low] },
    ]);
  });

  it('runs with 2 and 5 points: the best multimask token at N <= 2, SAM single-mask token 0 at N >= 3', async () => {
    const s = model.config.img;
    const orig: [number, number] = [s, s];
    // One click + its padding point (N = 2): the official export returns the best of tokens 1..3.
    const click: [number, number] = [0.45 * s, 0.35 * s];
    const two = await ours(pointPrompt([click], [1]), true);
    assertMatches(await official([click, [0, 0]], [1, -1], orig), two, argmax(two.iou), orig, '1 point + padding');
    // Four clicks + padding (N = 5): token 0, i.e. SAM's multimask_output=False.
    const clicks: [number, number][] = [click, [0.2 * s, 0.8 * s], [0.7 * s, 0.6 * s], [0.3 * s, 0.2 * s]];
    const labels = [1, 0, 1, 1];
    const five = await ours(pointPrompt(clicks, labels), false);
    assertMatches(await official([...clicks, [0, 0]], [...labels, -1], orig), five, 0, orig, '4 points + padding');
  });

  it('box prompts: a box alone (N = 2) and a box with a point (N = 3), masks at a non-square orig_im_size', async () => {
    const s = model.config.img;
    const orig: [number, number] = [300, 200];
    const [h, w] = getPreprocessShape(orig[0], orig[1], s);
    const box: [number, number, number, number] = [0.2 * w, 0.25 * h, 0.7 * w, 0.8 * h];
    const alone = await ours(boxPrompt(box), true);
    const offAlone = await official([box.slice(0, 2) as [number, number], box.slice(2) as [number, number]], [2, 3], orig);
    assertMatches(offAlone, alone, argmax(alone.iou), orig, 'box');
    assert.equal(offAlone.masks.length, 300 * 200);
    const point: [number, number] = [0.5 * w, 0.5 * h];
    const withPoint = await ours(pointPrompt([point], [1], box), false);
    assertMatches(await official([point, [box[0], box[1]], [box[2], box[3]]], [1, 2, 3], orig), withPoint, 0, orig, 'point + box');
    // Landscape too, and a size whose longest side is not the model's.
    const wide: [number, number] = [37, 150];
    assertMatches(await official([point, [box[0], box[1]], [box[2], box[3]]], [1, 2, 3], wide), withPoint, 0, wide, 'point + box, 37 x 150');
  });

  it("ignores a padding point's position (label -1) but not a real point's", async () => {
    const s = model.config.img;
    const orig: [number, number] = [s, s];
    const click: [number, number] = [0.6 * s, 0.4 * s];
    const a = await official([click, [0.1 * s, 0.2 * s], [0, 0]], [1, 1, -1], orig);
    const b = await official([click, [0.1 * s, 0.2 * s], [0.9 * s, 0.7 * s]], [1, 1, -1], orig);
    assert.deepEqual(b.lowRes, a.lowRes);
    assert.deepEqual(b.iou, a.iou);
    const moved = await official([click, [0.8 * s, 0.2 * s], [0, 0]], [1, 1, -1], orig);
    assert.ok(relErr(moved.lowRes, a.lowRes) > 100 * EXPORT_TOLERANCE, 'moving a positive point changes the mask');
  });

  it('has_mask_input = 0 ignores mask_input; 1 feeds it through the mask downscaling like SAM', async () => {
    const s = model.config.img;
    const low = lowResSize(model.config);
    const orig: [number, number] = [s, s];
    const rng = new Rng(3);
    const mask = Float32Array.from({ length: low * low }, () => 4 * rng.normal());
    const coords: [number, number][] = [[0.5 * s, 0.5 * s], [0.3 * s, 0.6 * s], [0, 0]];
    const labels = [1, 1, -1];
    const tokens = pointPrompt(coords.slice(0, 2), [1, 1]);
    const off0 = await official(coords, labels, orig, mask, 0);
    const zeros = await official(coords, labels, orig, undefined, 0);
    assert.deepEqual(off0.lowRes, zeros.lowRes);
    assertMatches(off0, await ours(tokens, false), 0, orig, 'has_mask_input 0');
    const off1 = await official(coords, labels, orig, mask, 1);
    assertMatches(off1, await ours(tokens, false, mask, 1), 0, orig, 'has_mask_input 1');
    assert.ok(relErr(off1.lowRes, off0.lowRes) > 100 * EXPORT_TOLERANCE, 'the mask prompt changes the mask');
  });
});
