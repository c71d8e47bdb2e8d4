// The exported decoder.onnx prompted the way the official SAM web demo and ONNX examples prompt it with
// a box alone (two corner points labelled 2 and 3, mask_input zeros, has_mask_input 0) segments as well
// as `predict` (our inference path, SAM's single-mask output) on the demo job's target domain: for the
// bundled base model, and for an adapter trained the way the demo job trains one (merged into the
// exported weights, the mask-decoder adapters included).
// The official decoder answers a two-point prompt with the best of its three multimask outputs, a
// different output token: this checks that token is trained too, not just that the graph matches.
// Training supervises only the single-mask output, so a trained adapter's box-alone answer gets a wider
// margin. The adapter is trained for 6 epochs (72 steps): after 3 its box-alone answer still trailed
// predict's by 0.055 on these 12 images (the decoder adapters had moved the multimask outputs, which
// recover later); after 6 it is 0.06 above on them, 0.01 above on 48, and the demo job's own adapter
// is 0.005 under on the 96 held-out images (README, "Downstream").

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
import { baseEvalModel, inferenceFor, loadBaseModel, loadLoraModel } from '../../../tools/evaluation/eval_model.js';
import { runExport } from '../../../tools/export/export_model.js';
import { trainShortDemoLora } from '../../helpers/short_demo_lora.js';

/** How much worse (mean Dice) the exported box-alone answer may be than predict's, on the bundled base. */
export const BOX_ALONE_MAX_DICE_LOSS = 0.02;
/** The same for a trained adapter, whose training never saw the multimask outputs box-alone answers with. */
export const BOX_ALONE_LORA_MAX_DICE_LOSS = 0.05;
/** Held-out target-domain images (the demo job's test split, seed 0, 256 px) scored both ways. */
const IMAGES = 12;

const tmp = mkdtempSync(path.join(tmpdir(), 'samlora-box-alone-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

interface BoxAloneScores {
  predict: number[];
  onnx: number[];
  report: string;
}

const mean = (v: number[]): number => v.reduce((a, b) => a + b, 0) / v.length;

/** Exports the bundled base (with the LoRA, when given) and scores predict and decoder.onnx's box-alone answer on IMAGES images. */
async function boxAloneVsPredict(name: string, lora?: string): Promise<BoxAloneScores> {
  const base = await loadBaseModel({});
  const exported = await runExport({ out: path.join(tmp, `export-${name}`), ...(lora ? { lora } : {}) });
  const cfg = base.sam;
  const encoder = await ort.InferenceSession.create(exported.files.encoder.file, { intraOpNumThreads: 2 });
  const decoder = await ort.InferenceSession.create(exported.files.decoder.file, { intraOpNumThreads: 2 });
  const model = lora ? await loadLoraModel(lora, name, base) : baseEvalModel();
  const inference = inferenceFor(model, base);
  const predict: number[] = [];
  const onnx: number[] = [];
  try {
    for (let i = 0; i < IMAGES; i++) {
      const s = generateDemoSample(0, 'test', i, 256);
      const box = maskBounds(s.mask)!;
      const prepared = await prepareForInference({ image: s.image }, [{ box }], { img: cfg.img });
      const ours = await inference.decode(await inference.encode(prepared.image, model.params), prepared.objects[0]!.prompt, model.params, prepared);
      predict.push(segScores(ours.masks, s.mask.data).dice);
      assert.ok(ours.iou[0]! > 0, `${name} predict: predicted IoU ${ours.iou[0]} on ${s.name}`);

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
      onnx.push(segScores(out.masks!.data as Float32Array, s.mask.data).dice);
      const predictedIou = (out.iou_predictions!.data as Float32Array)[0]!;
      assert.ok(predictedIou > 0, `${name} decoder.onnx: predicted IoU ${predictedIou} on ${s.name}`);
    }
  } finally {
    await inference.release();
    await encoder.release();
    await decoder.release();
  }
  const report = `${name}: predict Dice ${mean(predict).toFixed(4)} [${predict.map((v) => v.toFixed(3)).join(' ')}], decoder.onnx box alone ${mean(onnx).toFixed(4)} [${onnx.map((v) => v.toFixed(3)).join(' ')}]`;
  console.log(report);
  return { predict, onnx, report };
}

let baseScores: Promise<BoxAloneScores> | undefined;
const bundledBase = (): Promise<BoxAloneScores> => (baseScores ??= boxAloneVsPredict('base'));

describe('exported decoder.onnx, box alone', () => {
  it(`scores within ${BOX_ALONE_MAX_DICE_LOSS} Dice of predict on the bundled base, with positive predicted IoUs`, async () => {
    const { predict, onnx, report } = await bundledBase();
    assert.ok(mean(onnx) >= mean(predict) - BOX_ALONE_MAX_DICE_LOSS, report);
    // The model segments (the base reaches about 0.65 on this domain): a collapsed output would pass the comparison above only by accident.
    assert.ok(mean(predict) > 0.5, report);
  });

  it(`scores within ${BOX_ALONE_LORA_MAX_DICE_LOSS} Dice of predict with a LoRA trained as the demo job trains it`, async () => {
    const { lora } = await trainShortDemoLora(path.join(tmp, 'train'), 6);
    const { predict, onnx, report } = await boxAloneVsPredict('lora', lora);
    const base = await bundledBase();
    const both = `${report}; ${base.report}`;
    assert.ok(mean(onnx) >= mean(predict) - BOX_ALONE_LORA_MAX_DICE_LOSS, both);
    // The comparison is about a trained model: the adapter segments these images better than the base.
    assert.ok(mean(predict) > mean(base.predict) + 0.03, both);
  });
});
