// runExport end to end: the exported encoder.onnx + decoder.onnx, loaded by a plain onnxruntime-node
// InferenceSession, reproduce our own inference path with the LoRA (and a trained decoder) fed at
// run time; merged.safetensors is a SAM state dict; external data lands beside the model.

import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { type BaseModel, type BaseModelOptions, type EvalModel, inferenceFor, loadBaseModel, loadLoraModel } from '../../../tools/evaluation/eval_model.js';
import { EXPORT_FILES, type ExportResult, runExport } from '../../../tools/export/export_model.js';
import { type InferenceSample, prepareForInference } from '../../../shared/data/prepare.js';
import type { RgbImage } from '../../../shared/data/types.js';
import { loadSamCheckpoint } from '../../../shared/sam/checkpoint.js';
import { gridSize, lowResSize } from '../../../shared/sam/config.js';
import type { LoraSpec } from '../../../shared/sam/lora.js';
import { saveLora } from '../../../shared/sam/lora_io.js';
import { mergeLora } from '../../../shared/sam/merge_lora.js';
import { LABEL_SLOTS } from '../../../shared/sam/prompt_encoder.js';
import type { PromptTokens } from '../../../shared/sam/preprocess.js';
import { readSafetensors, writeSafetensors } from '../../../shared/tensor/safetensors.js';
import type { MaskPrediction } from '../../../shared/sam/inference_compute.js';
import { Rng } from '../../helpers/rng.js';
import { EXPORT_TOLERANCE, randomLora, relErr, smallModel } from '../../helpers/small_model.js';
import { writeTinyConfig } from '../evaluation/tiny_model.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'samlora-export-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

let opts: BaseModelOptions;
let base: BaseModel;
let model: EvalModel;
let loraFile: string;
let decoderFile: string;
let external: ExportResult;

/** The smallest fixture's checkpoint (real weights) or, without fixtures, the tiny generated config. */
async function modelOptions(): Promise<BaseModelOptions> {
  const small = await smallModel();
  if (small.checkpoint) return { checkpoint: small.checkpoint, overrides: { 'model.decoder_heads': String(small.config.dheads) } };
  return { configPath: writeTinyConfig(tmp, 'cfg') };
}

/** A non-square image with a bright blob on a noisy background. */
function testImage(width: number, height: number): RgbImage {
  const rng = new Rng(8);
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const inside = (x - 0.45 * width) ** 2 / (0.2 * width) ** 2 + (y - 0.5 * height) ** 2 / (0.3 * height) ** 2 < 1;
      for (let c = 0; c < 3; c++) data[(y * width + x) * 3 + c] = Math.max(0, Math.min(255, (inside ? 200 : 60) + 30 * rng.normal() + 20 * c));
    }
  }
  return { width, height, data };
}

/** The official decoder's labels from our prompt tokens' one-hot slots (slot = label + 1). */
function labelsOf(t: PromptTokens): Float32Array {
  return Float32Array.from({ length: t.count }, (_, i) => t.labelsOneHot.subarray(i * LABEL_SLOTS, (i + 1) * LABEL_SLOTS).indexOf(1) - 1);
}

async function runOnnx(result: ExportResult, sample: InferenceSample): Promise<{ embeddings: Float32Array; decoded: Record<string, ort.Tensor>[] }> {
  const cfg = base.sam;
  const encoder = await ort.InferenceSession.create(result.files.encoder.file, { intraOpNumThreads: 1 });
  const decoder = await ort.InferenceSession.create(result.files.decoder.file, { intraOpNumThreads: 1 });
  try {
    const enc = await encoder.run({ images: new ort.Tensor('float32', sample.image, [1, 3, cfg.img, cfg.img]) });
    const embeddings = enc.image_embeddings!.data as Float32Array;
    const g = gridSize(cfg);
    const low = lowResSize(cfg);
    const decoded = [];
    for (const { prompt } of sample.objects) {
      decoded.push(
        await decoder.run({
          image_embeddings: new ort.Tensor('float32', embeddings, [1, cfg.pdim, g, g]),
          point_coords: new ort.Tensor('float32', prompt.coords, [1, prompt.count, 2]),
          point_labels: new ort.Tensor('float32', labelsOf(prompt), [1, prompt.count]),
          mask_input: new ort.Tensor('float32', new Float32Array(low * low), [1, 1, low, low]),
          has_mask_input: new ort.Tensor('float32', new Float32Array([0]), [1]),
          orig_im_size: new ort.Tensor('float32', Float32Array.from(sample.originalSize), [2]),
        }),
      );
    }
    return { embeddings, decoded };
  } finally {
    await encoder.release();
    await decoder.release();
  }
}

before(async () => {
  opts = await modelOptions();
  base = await loadBaseModel(opts);
  const cfg = base.sam;
  // A LoRA on several encoder and decoder targets (scale 2) and a trained decoder beside it.
  const spec: LoraSpec = { rank: 4, alpha: 8, blocks: [...Array(cfg.depth).keys()], targets: ['q', 'v', 'proj', 'lin1'], decoderTargets: ['q_proj', 'v_proj'] };
  const run = path.join(tmp, 'run');
  mkdirSync(run);
  loraFile = path.join(run, 'lora.safetensors');
  await saveLora(loraFile, randomLora(cfg, spec, 31, 0.1), spec, 'native');
  const rng = new Rng(12);
  const decoder = new Map([...base.state].filter(([k]) => k.startsWith('mask_decoder.')).map(([k, t]) => [k, { shape: t.shape, data: Float32Array.from(t.data, (v) => v + 0.02 * rng.normal()) }]));
  decoderFile = path.join(run, 'decoder.safetensors');
  await writeSafetensors(decoderFile, decoder);
  model = await loadLoraModel(loraFile, 'lora', base);
  external = await runExport({ ...opts, lora: loraFile, out: path.join(tmp, 'out'), externalThresholdBytes: 0 });
});

describe('runExport', () => {
  it('encoder.onnx + decoder.onnx reproduce the LoRA model (box, box + point -> mask logits at the original size)', async () => {
    const image = testImage(90, 61);
    const box: [number, number, number, number] = [20, 12, 62, 50];
    const sample = await prepareForInference({ image }, [{ box }, { box, points: [[40, 30]], labels: [1] }], { img: base.sam.img });
    const inference = inferenceFor(model, base);
    let ours: { embeddings: Float32Array; box: MaskPrediction; boxPoint: MaskPrediction };
    try {
      const embeddings = await inference.encode(sample.image, model.params);
      const boxPred = await inference.decode(embeddings, sample.objects[0]!.prompt, model.params, sample, true);
      const boxPoint = await inference.decode(embeddings, sample.objects[1]!.prompt, model.params, sample, false);
      ours = { embeddings, box: boxPred, boxPoint };
    } finally {
      await inference.release();
    }
    const onnx = await runOnnx(external, sample);
    const [H, W] = sample.originalSize;
    const report = (what: string, a: Float32Array, b: Float32Array): void => {
      const err = relErr(a, b);
      console.log(JSON.stringify({ output: what, relErr: err }));
      assert.ok(err <= EXPORT_TOLERANCE, `${what}: relative error ${err}`);
    };
    report('image_embeddings', onnx.embeddings, ours.embeddings);
    // A box alone is two points: the official decoder returns the best multimask token.
    const best = ours.box.iou.reduce((b, v, i, all) => (v > all[b]! ? i : b), 0);
    const [boxOut, boxPointOut] = onnx.decoded as [Record<string, ort.Tensor>, Record<string, ort.Tensor>];
    assert.deepEqual(boxOut.masks!.dims, [1, 1, H, W]);
    report('box masks', boxOut.masks!.data as Float32Array, ours.box.masks.subarray(best * H * W, (best + 1) * H * W));
    report('box iou', boxOut.iou_predictions!.data as Float32Array, ours.box.iou.subarray(best, best + 1));
    report('box + point masks', boxPointOut.masks!.data as Float32Array, ours.boxPoint.masks);
    report('box + point low_res_masks', boxPointOut.low_res_masks!.data as Float32Array, ours.boxPoint.lowRes);
    report('box + point iou', boxPointOut.iou_predictions!.data as Float32Array, ours.boxPoint.iou);
  });

  it('writes large weights as external data beside each model, and reports the files', () => {
    const out = path.join(tmp, 'out');
    assert.equal(external.files.merged, path.join(out, EXPORT_FILES.merged));
    assert.equal(external.files.encoder.file, path.join(out, EXPORT_FILES.encoder));
    assert.equal(external.files.encoder.data, path.join(out, `${EXPORT_FILES.encoder}.data`));
    assert.equal(external.files.decoder.data, path.join(out, `${EXPORT_FILES.decoder}.data`));
    for (const f of [external.files.merged, external.files.encoder.file, external.files.encoder.data!, external.files.decoder.file]) assert.ok(existsSync(f), f);
    assert.equal(external.lora, loraFile);
    assert.equal(external.decoderWeights, decoderFile);
    assert.deepEqual(external.files.encoder.inputs, [{ name: 'images', shape: [1, 3, base.sam.img, base.sam.img] }]);
    assert.deepEqual(external.files.decoder.inputs[1], { name: 'point_coords', shape: [1, 'num_points', 2] });
  });

  it('merged.safetensors is a SAM state dict under the original keys that our checkpoint loader reads', async () => {
    const file = external.files.merged;
    const loaded = await loadSamCheckpoint(file, { dheads: base.sam.dheads });
    assert.deepEqual(loaded.config, base.sam);
    assert.deepEqual([...loaded.state.keys()].sort(), [...base.state.keys()].sort());
    const expected = mergeLora(base.sam, base.state, model.spec, model.params);
    for (const [k, t] of expected) assert.deepEqual(loaded.state.get(k)!.data, t.data, k);
    assert.notDeepEqual(loaded.state.get('image_encoder.blocks.0.attn.qkv.weight')!.data, base.state.get('image_encoder.blocks.0.attn.qkv.weight')!.data);
    assert.equal((await readSafetensors(file)).metadata.format, 'pt');
    // Every mask-decoder weight comes from decoder.safetensors (plus adapters where they apply).
    assert.ok(external.adapted > model.spec!.blocks.length);
  });

  it('re-exporting with small weights writes self-contained models and removes stale data files', async () => {
    const out = path.join(tmp, 'out');
    const again = await runExport({ ...opts, lora: loraFile, out });
    assert.equal(again.files.encoder.data, null);
    assert.equal(again.files.decoder.data, null);
    assert.ok(!existsSync(path.join(out, `${EXPORT_FILES.encoder}.data`)));
    assert.ok(!existsSync(path.join(out, `${EXPORT_FILES.decoder}.data`)));
    const plain = await runExport({ ...opts, out: path.join(tmp, 'base') });
    assert.equal(plain.lora, null);
    assert.equal(plain.adapted, 0);
  });
});
