// The web demo's work: encode an uploaded image once per model (kept in an ImageCache by the hash of
// its bytes), then decode prompts against the cached embeddings with every model. All model work
// runs through one SerialQueue: one inference at a time, a bounded number waiting.

import { createHash } from 'node:crypto';
import { encodeMaskPng } from '../../shared/data/demo_data.js';
import { type InferencePrompt, inferencePromptTokens, prepareForInference } from '../../shared/data/prepare.js';
import type { Box } from '../../shared/data/prompts.js';
import { type PointPrompt, PredictInputError, checkPrompt } from '../evaluation/predict.js';
import { decodeUpload } from './decode_upload.js';
import { HttpError } from './http_error.js';
import { type EncodedImage, ImageCache } from './image_cache.js';
import type { PredictRequest } from './predict_request.js';
import { SerialQueue } from './serial_queue.js';
import type { ServeModels } from './serve_models.js';

export interface SegmenterLimits {
  /** Largest image accepted, in pixels (width x height). */
  maxPixels: number;
  /** Most point prompts in one request (each distinct count builds a decoder session). */
  maxPoints: number;
  /** Encoded images kept. */
  cacheImages: number;
  /** Requests allowed to wait for the model behind the running one. */
  maxWaiting: number;
}

export const DEFAULT_SEGMENTER_LIMITS: SegmenterLimits = { maxPixels: 40_000_000, maxPoints: 32, cacheImages: 8, maxWaiting: 8 };

export interface ImageSummary {
  /** sha256 of the bytes: pass it as "image" to /api/predict. */
  id: string;
  width: number;
  height: number;
  /** True when this request ran the image encoder (false: the embeddings were cached). */
  encoded: boolean;
}

export interface ModelPrediction {
  model: string;
  /** Predicted IoU of the returned mask. */
  iou: number;
  /** Predicted IoU of each of SAM's masks (3 with multimask, else 1). */
  ious: number[];
  /** Mask pixels. */
  area: number;
  /** The mask, 0/255 grey PNG at the image's size, as a data: URL. */
  mask: string;
  /** Decoder and PNG time, ms. */
  ms: number;
}

export interface PredictResponse {
  image: ImageSummary;
  prompt: { box: Box | null; points: PointPrompt[]; multimask: boolean };
  results: ModelPrediction[];
  /** Time in the queue's job (encoder when needed, decoders, PNGs), ms. */
  ms: number;
}

export class Segmenter {
  private readonly cache: ImageCache;
  private readonly queue: SerialQueue;

  constructor(
    private readonly models: ServeModels,
    readonly limits: SegmenterLimits = DEFAULT_SEGMENTER_LIMITS,
  ) {
    this.cache = new ImageCache(limits.cacheImages);
    this.queue = new SerialQueue(limits.maxWaiting);
  }

  /** Decodes and encodes an image (unless cached); the id to prompt it with. */
  addImage(bytes: Buffer): Promise<ImageSummary> {
    return this.queue.run(async () => {
      const { entry, encoded } = await this.encode(bytes);
      return summary(entry, encoded);
    });
  }

  predict(req: PredictRequest): Promise<PredictResponse> {
    return this.queue.run(async () => {
      const start = performance.now();
      const { entry, encoded } = 'id' in req.image ? { entry: this.cached(req.image.id), encoded: false } : await this.encode(req.image.bytes);
      try {
        checkPrompt(req.box, req.points, entry.width, entry.height);
      } catch (err) {
        if (err instanceof PredictInputError) throw new HttpError(422, 'bad_prompt', err.message);
        throw err;
      }
      const prompt: InferencePrompt = {
        ...(req.box ? { box: req.box } : {}),
        ...(req.points.length ? { points: req.points.map((p): [number, number] => [p.x, p.y]), labels: req.points.map((p) => p.label) } : {}),
      };
      const tokens = inferencePromptTokens(prompt, [entry.height, entry.width], this.models.base.sam.img);
      const frame = { inputSize: entry.inputSize, originalSize: [entry.height, entry.width] as [number, number] };
      const results: ModelPrediction[] = [];
      for (const { model, inference } of this.models.models) {
        const t = performance.now();
        const pred = await inference.decode(entry.embeddings.get(model.name)!, tokens, model.params, frame, req.multimask);
        const ious = Array.from(pred.iou);
        const best = ious.reduce((b, v, i) => (v > ious[b]! ? i : b), 0);
        const n = entry.width * entry.height;
        const mask = new Uint8Array(n);
        let area = 0;
        for (let i = 0, o = best * n; i < n; i++) {
          if (pred.masks[o + i]! > 0) {
            mask[i] = 1;
            area++;
          }
        }
        const png = await encodeMaskPng({ width: entry.width, height: entry.height, data: mask });
        results.push({ model: model.name, iou: ious[best]!, ious, area, mask: `data:image/png;base64,${png.toString('base64')}`, ms: round(performance.now() - t) });
      }
      return {
        image: summary(entry, encoded),
        prompt: { box: req.box ?? null, points: req.points, multimask: req.multimask },
        results,
        ms: round(performance.now() - start),
      };
    });
  }

  /** Stops taking work, waits for the running job, releases the sessions. */
  async close(): Promise<void> {
    await this.queue.close();
    await this.models.release();
  }

  private cached(id: string): EncodedImage {
    const entry = this.cache.get(id);
    if (!entry) throw new HttpError(404, 'unknown_image', `no image ${id} on the server (never uploaded, or dropped from its cache of ${this.limits.cacheImages}): upload it again with POST /api/images`);
    return entry;
  }

  private async encode(bytes: Buffer): Promise<{ entry: EncodedImage; encoded: boolean }> {
    const id = createHash('sha256').update(bytes).digest('hex');
    const hit = this.cache.get(id);
    if (hit) return { entry: hit, encoded: false };
    const image = await decodeUpload(bytes, this.limits.maxPixels);
    const prepared = await prepareForInference({ id, image }, [], { img: this.models.base.sam.img });
    const embeddings = new Map<string, Float32Array>();
    for (const { model, inference } of this.models.models) embeddings.set(model.name, await inference.encode(prepared.image, model.params));
    const entry: EncodedImage = { id, width: image.width, height: image.height, inputSize: prepared.inputSize, embeddings };
    this.cache.set(entry);
    return { entry, encoded: true };
  }
}

function summary(entry: EncodedImage, encoded: boolean): ImageSummary {
  return { id: entry.id, width: entry.width, height: entry.height, encoded };
}

const round = (ms: number): number => Math.round(ms * 10) / 10;
