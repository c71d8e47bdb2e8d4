// The exported decoder.onnx prompted the way the official SAM web demo and ONNX examples prompt it with
// a box alone (two corner points labelled 2 and 3, mask_input zeros, has_mask_input 0) segments as well
// as `predict` (our inference path, SAM's single-mask output) on the bundled base model's target domain.
// The official decoder answers a two-point prompt with the best of its three multimask outputs, a
// different output token: this checks that token is trained too, not just that the graph matches.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { generateDemoSample } from '../../../shared/data/demo_data.js';
import { prepareForInference } from '../../../shared/data/prepare.js';
import { maskBounds } from '../../../shared/data/prompts.js';
import { segScores } from '../../../shared/metrics/segmentation.js';
import { gridSize, lowResSize } from '../../../shared/sam/config.js';
import { baseEvalModel, inferenceFor, loadBaseModel } from '../../../tools/evaluation/eval_model.js';
import { runExport } from '../../../tools/export/export_model.js';

/** How much worse (mean Dice) the exported box-alone answer may be than predict's. */
export const BOX_ALONE_MAX_DICE_LOSS = 0.02;
/** Held-out target-domain images (the demo job's test split, seed 0, 256 px) scored both ways. */
const IMAGES = 6;

const tmp = mkdtempSync(path.join(tmpdir(), 'samlora-box-alone-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('exported decoder.onnx, box alone', () => {
  it(`scores within ${BOX_ALONE_MAX_DICE_LOSS} Dice of predict on the bundled base, with positive predicted IoUs`, async () => {
    const base = await loadBaseModel({});
    const exported = await runExport({ out: path.join(tmp, 'export') });
    const cfg = base.sam;
    const encoder = await ort.InferenceSession.create(exported.files.encoder.file, { intraOpNumThreads: 2 });
    const decoder = await ort.InferenceSession.create(exported.files.decoder.file, { intraOpNumThreads: 2 });
    const model = baseEvalModel();
    const inference = inferenceFor(model, base);
    const predictDice: number[] = [];
    const onnxDice: number[] = [];
    try {
      for (let i = 0; i < IMAGES; i++) {
        const s = generateDemoSample(0, 'test', i, 256);
        const box = maskBounds(s.mask)!;
        const prepared = await prepareForInference({ image: s.image }, [{ box }], { img: cfg.img });
        const ours = await inference.decode(await inference.encode(prepared.image, model.params), prepared.objects[0]!.prompt, model.params, prepared);
        predictDice.push(segScores(ours.masks, s.mask.data).dice);
        assert.ok(ours.iou[0]! > 0, `predict: predicted IoU ${ours.iou[0]} on ${s.name}`);

        const [H, W] = prepared.originalSize;
        const scale = cfg.img / Math.max(H, W);
        const low = lowResSize(cfg);
        const g = gridSize(cfg);
        const { image_embeddings: emb } = await encoder.run({ images: new ort.Tensor('float32', prepared.image, [1, 3, cfg.img, cfg.img]) });
        assert.deepEqual(emb!.dims, [1, cfg.pdim, g, g]);
        const out = await decoder.run({
          image_embeddings: emb!,
          point_coords: new ort.Tensor('float32', Float32Array.from(box, (v) => v * scale), [1, 2, 2]),
          point_labels: new ort.Tensor('float32', Float32Array.from([2, 3]), [1, 2]),
          mask_input: new ort.Tensor('float32', new Float32Array(low * low), [1, 1, low, low]),
          has_mask_input: new ort.Tensor('float32', new Float32Array([0]), [1]),
          orig_im_size: new ort.Tensor('float32', Float32Array.from([H, W]), [2]),
        });
        onnxDice.push(segScores(out.masks!.data as Float32Array, s.mask.data).dice);
        const predictedIou = (out.iou_predictions!.data as Float32Array)[0]!;
        assert.ok(predictedIou > 0, `decoder.onnx: predicted IoU ${predictedIou} on ${s.name}`);
      }
    } finally {
      await inference.release();
      await encoder.release();
      await decoder.release();
    }
    const mean = (v: number[]): number => v.reduce((a, b) => a + b, 0) / v.length;
    const report = `predict Dice ${mean(predictDice).toFixed(4)} [${predictDice.map((v) => v.toFixed(3)).join(' ')}], decoder.onnx box alone ${mean(onnxDice).toFixed(4)} [${onnxDice.map((v) => v.toFixed(3)).join(' ')}]`;
    console.log(report);
    assert.ok(mean(onnxDice) >= mean(predictDice) - BOX_ALONE_MAX_DICE_LOSS, report);
    // The model segments (the base reaches about 0.65 on this domain): a collapsed output would pass the comparison above only by accident.
    assert.ok(mean(predictDice) > 0.5, report);
  });
});
