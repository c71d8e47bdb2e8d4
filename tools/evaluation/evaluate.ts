// Evaluation of several models on one dataset, as the training loop's held-out evaluation does it
// (worker/local_worker.ts `evaluate`): every object with at least one pixel is prompted with SAM's
// box prompt from its tight box (no jitter) at the original resolution, decoded to one mask (no
// multimask), thresholded at logit 0 and scored against its mask with Dice and IoU; an image's score
// is the mean over its objects, a model's the mean over its images. The IoU head's prediction for
// each mask is kept beside its real IoU: `iouCorrelation` is Pearson's r of the two over every
// scored object (how far a user can trust the predicted IoU that predict and serve show).
//
// Models run one after the other (one set of ORT sessions alive at a time, so ViT-H models do not
// pile up in memory); each image is loaded once per model.

import type { Dataset, LoadedSample, SampleRef } from '../../shared/data/dataset.js';
import { prepareForInference } from '../../shared/data/prepare.js';
import { maskBounds } from '../../shared/data/prompts.js';
import { pearson } from '../../shared/metrics/correlation.js';
import { type SegScores, meanScores, segScores } from '../../shared/metrics/segmentation.js';
import type { LoraSpec } from '../../shared/sam/lora.js';
import { type BaseModel, type EvalModel, inferenceFor } from './eval_model.js';
import { errorMessage } from '../../shared/errors/error_message.js';

export interface ImageScore extends SegScores {
  id: string;
  /** Objects scored (non-empty masks). */
  objects: number;
  /** Mean over the objects of the IoU head's prediction. */
  predictedIou: number;
}

export interface ModelResult {
  name: string;
  file: string | null;
  decoderFile: string | null;
  spec: LoraSpec | null;
  mean: SegScores;
  /** Mean over the images of the predicted IoU. */
  meanPredictedIou: number;
  /** Pearson's r of predicted vs real IoU over every scored object; NaN when undefined (fewer than 2 objects, constant values). */
  iouCorrelation: number;
  images: ImageScore[];
  failed: { id: string; reason: string }[];
}

/** What a caller gets per image and model, e.g. to draw an overlay. */
export interface ImagePrediction {
  model: EvalModel;
  sample: LoadedSample;
  /** Objects with pixels, in dataset order. */
  objects: LoadedSample['objects'];
  /** One binary mask (1 = object) per object, at the original size. */
  predicted: Uint8Array[];
  scores: SegScores[];
}

export interface EvaluateOptions {
  base: Pick<BaseModel, 'sam' | 'state' | 'runtime'>;
  models: readonly EvalModel[];
  dataset: Dataset;
  /** The samples to evaluate, in order (e.g. those the scan passed). */
  samples: readonly SampleRef[];
  onPrediction?: (p: ImagePrediction) => Promise<void>;
  progress?: (line: string) => void;
}

export async function evaluateModels(o: EvaluateOptions): Promise<ModelResult[]> {
  const results: ModelResult[] = [];
  for (const [mi, model] of o.models.entries()) {
    o.progress?.(`[${mi + 1}/${o.models.length}] ${model.name}: ${o.samples.length} image(s)`);
    const inference = inferenceFor(model, o.base);
    const images: ImageScore[] = [];
    const failed: ModelResult['failed'] = [];
    const predictedIous: number[] = [];
    const realIous: number[] = [];
    try {
      for (const ref of o.samples) {
        let sample: LoadedSample;
        try {
          sample = await o.dataset.load(ref);
        } catch (err) {
          failed.push({ id: ref.id, reason: errorMessage(err) });
          continue;
        }
        const objects = sample.objects.filter((m) => maskBounds(m) !== null);
        if (objects.length === 0) {
          failed.push({ id: ref.id, reason: 'no object with pixels' });
          continue;
        }
        const prepared = await prepareForInference(sample, objects.map((m) => ({ box: maskBounds(m)! })), { img: o.base.sam.img });
        const emb = await inference.encode(prepared.image, model.params);
        const scores: SegScores[] = [];
        const predicted: Uint8Array[] = [];
        let predictedSum = 0;
        for (const [i, obj] of prepared.objects.entries()) {
          const pred = await inference.decode(emb, obj.prompt, model.params, prepared);
          const score = segScores(pred.masks, objects[i]!.data);
          scores.push(score);
          predictedIous.push(pred.iou[0]!);
          realIous.push(score.iou);
          predictedSum += pred.iou[0]!;
          const bin = new Uint8Array(pred.masks.length);
          for (let p = 0; p < bin.length; p++) bin[p] = pred.masks[p]! > 0 ? 1 : 0;
          predicted.push(bin);
        }
        images.push({ id: ref.id, ...meanScores(scores), objects: scores.length, predictedIou: predictedSum / scores.length });
        await o.onPrediction?.({ model, sample, objects, predicted, scores });
      }
    } finally {
      await inference.release();
    }
    const meanPredictedIou = images.length ? images.reduce((s, i) => s + i.predictedIou, 0) / images.length : Number.NaN;
    const iouCorrelation = pearson(predictedIous, realIous);
    results.push({ name: model.name, file: model.file, decoderFile: model.decoderFile, spec: model.spec, mean: meanScores(images), meanPredictedIou, iouCorrelation, images, failed });
    const m = results.at(-1)!.mean;
    const r = Number.isNaN(iouCorrelation) ? 'n/a' : iouCorrelation.toFixed(3);
    o.progress?.(
      `    mean Dice ${m.dice.toFixed(4)}, IoU ${m.iou.toFixed(4)}; predicted IoU ${meanPredictedIou.toFixed(4)} (r = ${r} with the real IoU)${failed.length ? ` (${failed.length} image(s) failed)` : ''}`,
    );
  }
  return results;
}
