// One loaded sample -> the training graph's model-frame arrays, and a batch of them -> the graph's
// feeds (names from IO in sam/sam_graph.ts).
//
// prepareSample, in order: choose exactly objectsPerImage objects; augment (original resolution);
// longest-side resize to `img` (image: see transforms/resize_longest_side.ts; masks: nearest);
// normalise + zero-pad the image; pad each mask with its valid region; draw each object's prompt in
// the model frame. All randomness comes from `rng`, which the caller derives from
// (seed, epoch, sample id) with sampleRng; it is forked into one stream per purpose (object choice,
// augmentation, prompts), so e.g. turning augmentation off does not change the prompts drawn.
//
// Object choice. Only objects with at least one pixel are candidates. With n >= K candidates, K
// distinct ones drawn uniformly (kept in dataset order); with n < K, every candidate once and the
// K - n others drawn with replacement (each repeat gets its own prompt draw, so repeats are extra
// prompt variety, not copies). An image with no non-empty object yields K placeholder objects with
// an empty mask, a full-frame box and weight 0, so batches keep their static shape.
// An object whose mask vanishes in the resize (thinner than a model pixel) keeps weight 0 as well.
//
// Weights. collateBatch gives each prompt weight_i / sum(weights) (1 / number of prompts in the
// batch when none is empty): the graph's loss sum(w_i * loss_i) is then the batch mean, as the
// reference project's DiceCE loss over a batch.

import type { Rng } from '../random/rng.js';
import { LABEL_SLOTS } from '../sam/prompt_encoder.js';
import { boxPrompt, normalizeAndPad, padMask, pointPrompt, type PromptTokens } from '../sam/preprocess.js';
import { IO } from '../sam/sam_graph.js';
import { type AugmentOptions, type AugmentParams, NO_AUGMENT, applyAugment, drawAugment } from './augment.js';
import { type Box, type Prompt, type PromptMode, promptFromMask, promptTokenCount } from './prompts.js';
import { forkRng } from './sample_rng.js';
import { applyBoxes, applyCoords, getPreprocessShape, type ResizeMethod, resizeImage, resizeMask } from './transforms/resize_longest_side.js';
import type { BinaryMask, RgbImage } from './types.js';

export interface LoadedSample {
  id: string;
  image: RgbImage;
  /** One mask per object, at the image's resolution. */
  objects: BinaryMask[];
}

export interface PrepareOptions {
  /** Model input size (square). */
  img: number;
  promptMode: PromptMode;
  /** Positive points per prompt in points mode (default 1). */
  points?: number;
  /** Negative points per prompt in points mode (default 0). */
  negativePoints?: number;
  /** Box jitter bound (default 20; see prompts.ts). */
  jitter?: number;
  /** Mixed mode: probability of a box (default 0.5). */
  boxProbability?: number;
  /** Prompts (objects) per image: the graph's promptsPerImage. */
  objectsPerImage: number;
  /** Augmentation; omitted or false: none. `true` or {}: the defaults of augment.ts. */
  augment?: AugmentOptions | boolean;
  /** The sample's generator: sampleRng(seed, epoch, sample.id). */
  rng: Rng;
  resizeMethod?: ResizeMethod;
}

export interface PreparedObject {
  /** Index into the sample's objects; -1 for a placeholder (image without objects). */
  index: number;
  /** [img * img] in {0, 1}, 0 in the padding. */
  gt: Float32Array;
  /** [img * img] 1 inside the resized image, 0 in the padding (one array shared by a sample's objects). */
  valid: Float32Array;
  prompt: PromptTokens;
  /** What the prompt is, in the model frame. */
  promptInfo: Prompt;
  /** 1, or 0 when the object has no pixel in the model frame. */
  weight: number;
  /** The object's mask at the original resolution, augmented (flipped) as the image was: for evaluation. */
  originalMask: BinaryMask;
}

export interface PreparedSample {
  id: string;
  img: number;
  /** [3, img, img] normalised and zero-padded. */
  image: Float32Array;
  /** [h, w] after the longest-side resize. */
  inputSize: [number, number];
  /** [H, W] of the loaded image. */
  originalSize: [number, number];
  objects: PreparedObject[];
  /** Tokens per prompt (P). */
  promptTokens: number;
  augment: AugmentParams;
}

/** A graph feed; assignable to runtime.ts's Feed. */
export interface BatchFeed {
  data: Float32Array;
  shape: number[];
}

function checkSample(sample: LoadedSample): void {
  const { width: W, height: H, data } = sample.image;
  if (!(W > 0 && H > 0) || data.length !== W * H * 3) throw new Error(`sample ${sample.id}: image has ${data.length} bytes, expected ${H} x ${W} x 3`);
  sample.objects.forEach((m, i) => {
    if (m.width !== W || m.height !== H || m.data.length !== W * H) throw new Error(`sample ${sample.id}: object ${i} mask is ${m.height} x ${m.width}, the image ${H} x ${W}`);
  });
}

function hasPixels(mask: BinaryMask): boolean {
  return mask.data.some((v) => v > 0);
}

/** Indices of the K objects to train on (see the header). */
export function chooseObjects(objects: readonly BinaryMask[], k: number, rng: Rng): number[] {
  if (!(Number.isInteger(k) && k > 0)) throw new Error(`objectsPerImage must be a positive integer (got ${k})`);
  const candidates = objects.map((m, i) => (hasPixels(m) ? i : -1)).filter((i) => i >= 0);
  const n = candidates.length;
  if (n === 0) return new Array<number>(k).fill(-1);
  if (n >= k) return rng.sample(n, k).map((j) => candidates[j]!);
  const extra = Array.from({ length: k - n }, () => candidates[rng.int(0, n - 1)]!);
  return [...candidates, ...extra];
}

/** HWC uint8 -> CHW float32 (0..255). */
export function toChw(image: RgbImage): Float32Array {
  const n = image.width * image.height;
  const out = new Float32Array(3 * n);
  const d = image.data;
  for (let i = 0; i < n; i++) {
    out[i] = d[3 * i]!;
    out[n + i] = d[3 * i + 1]!;
    out[2 * n + i] = d[3 * i + 2]!;
  }
  return out;
}

function augmentOptions(a: PrepareOptions['augment']): AugmentOptions | undefined {
  if (a === undefined || a === false) return undefined;
  return a === true ? {} : a;
}

async function modelFrameImage(image: RgbImage, img: number, method: ResizeMethod | undefined): Promise<{ data: Float32Array; inputSize: [number, number] }> {
  const [h, w] = getPreprocessShape(image.height, image.width, img);
  const resized = await resizeImage(image, h, w, method);
  return { data: normalizeAndPad(toChw(resized), h, w, img), inputSize: [h, w] };
}

/** One training sample in the model frame (see the header). */
export async function prepareSample(sample: LoadedSample, opts: PrepareOptions): Promise<PreparedSample> {
  checkSample(sample);
  const { img } = opts;
  if (!(Number.isInteger(img) && img > 0)) throw new Error(`img must be a positive integer (got ${img})`);
  const promptOpts = { mode: opts.promptMode, points: opts.points, negativePoints: opts.negativePoints, jitter: opts.jitter, boxProbability: opts.boxProbability };
  const promptTokens = promptTokenCount(promptOpts);
  const [selectRng, augmentRng, promptRng] = forkRng(opts.rng, 3) as [Rng, Rng, Rng];

  const chosen = chooseObjects(sample.objects, opts.objectsPerImage, selectRng);
  const { width: W, height: H } = sample.image;
  const empty: BinaryMask = { width: W, height: H, data: new Uint8Array(W * H) };
  const unique = [...new Set(chosen)];
  const masks = unique.map((i) => (i < 0 ? empty : sample.objects[i]!));

  const aug = augmentOptions(opts.augment);
  const params = aug ? drawAugment(augmentRng, aug) : NO_AUGMENT;
  const augmented = applyAugment(sample.image, masks, params);
  const byIndex = new Map(unique.map((i, j) => [i, augmented.masks[j]!]));

  const { data: image, inputSize } = await modelFrameImage(augmented.image, img, opts.resizeMethod);
  const [h, w] = inputSize;
  const resized = new Map([...byIndex].map(([i, m]) => [i, resizeMask(m, h, w)]));
  let valid: Float32Array | undefined;
  const objects = chosen.map((index): PreparedObject => {
    const mask = resized.get(index)!;
    const padded = padMask(mask.data, h, w, img);
    valid ??= padded.valid;
    const promptInfo = promptFromMask(mask, promptRng, promptOpts);
    const weight = index >= 0 && hasPixels(mask) ? 1 : 0;
    return { index, gt: padded.mask, valid, prompt: promptInfo.tokens, promptInfo, weight, originalMask: byIndex.get(index)! };
  });
  return { id: sample.id, img, image, inputSize, originalSize: [H, W], objects, promptTokens, augment: { ...params } };
}

function sameLayout(samples: readonly { id: string; img: number; objects: readonly { prompt: PromptTokens }[] }[]): { img: number; k: number; p: number } {
  if (samples.length === 0) throw new Error('collate: empty batch');
  const first = samples[0]!;
  const k = first.objects.length;
  const p = first.objects[0]?.prompt.count ?? 0;
  if (k === 0) throw new Error(`collate: sample ${first.id} has no prompts`);
  for (const s of samples) {
    if (s.img !== first.img) throw new Error(`collate: sample ${s.id} is at img ${s.img}, sample ${first.id} at ${first.img}`);
    if (s.objects.length !== k) throw new Error(`collate: sample ${s.id} has ${s.objects.length} prompts, sample ${first.id} ${k} (the graph's promptsPerImage is static)`);
    for (const o of s.objects) {
      if (o.prompt.count !== p) throw new Error(`collate: sample ${s.id} has a ${o.prompt.count}-token prompt, expected ${p} (the graph's promptTokens is static)`);
    }
  }
  return { img: first.img, k, p };
}

export interface CollateOptions {
  /** Adds zero mask_input [B*K, 1, img/4, img/4] and has_mask_input [B*K] (graphs built with maskInput). */
  maskInput?: boolean;
}

function promptAndImageFeeds(samples: readonly { image: Float32Array; objects: readonly { prompt: PromptTokens }[] }[], img: number, k: number, p: number, opts: CollateOptions): Record<string, BatchFeed> {
  const b = samples.length;
  const n = b * k;
  const images = new Float32Array(b * 3 * img * img);
  const coords = new Float32Array(n * p * 2);
  const labels = new Float32Array(n * p * LABEL_SLOTS);
  samples.forEach((s, i) => {
    images.set(s.image, i * 3 * img * img);
    s.objects.forEach((o, j) => {
      const r = i * k + j;
      coords.set(o.prompt.coords, r * p * 2);
      labels.set(o.prompt.labelsOneHot, r * p * LABEL_SLOTS);
    });
  });
  const feeds: Record<string, BatchFeed> = {
    [IO.images]: { data: images, shape: [b, 3, img, img] },
    [IO.coords]: { data: coords, shape: [n, p, 2] },
    [IO.labels]: { data: labels, shape: [n, p, LABEL_SLOTS] },
  };
  if (opts.maskInput) {
    const low = img / 4;
    feeds[IO.maskInput] = { data: new Float32Array(n * low * low), shape: [n, 1, low, low] };
    feeds[IO.hasMask] = { data: new Float32Array(n), shape: [n] };
  }
  return feeds;
}

/** The training graph's feeds for a batch (B = samples, K = objects per sample, P = prompt tokens). */
export function collateBatch(samples: readonly PreparedSample[], opts: CollateOptions = {}): Record<string, BatchFeed> {
  const { img, k, p } = sameLayout(samples);
  const n = samples.length * k;
  const plane = img * img;
  const gt = new Float32Array(n * plane);
  const valid = new Float32Array(n * plane);
  const weights = new Float32Array(n);
  samples.forEach((s, i) => {
    s.objects.forEach((o, j) => {
      const r = i * k + j;
      gt.set(o.gt, r * plane);
      valid.set(o.valid, r * plane);
      weights[r] = o.weight;
    });
  });
  const total = weights.reduce((a, v) => a + v, 0);
  if (total > 0) for (let r = 0; r < n; r++) weights[r] = weights[r]! / total;
  return {
    ...promptAndImageFeeds(samples, img, k, p, opts),
    [IO.gt]: { data: gt, shape: [n, img, img] },
    [IO.valid]: { data: valid, shape: [n, img, img] },
    [IO.weights]: { data: weights, shape: [n] },
  };
}

/** A prompt given by the caller in the original image's pixel coordinates. */
export interface InferencePrompt {
  box?: Box;
  points?: [number, number][];
  /** One per point: 1 positive, 0 negative (default: all positive). */
  labels?: number[];
}

export interface InferenceSample {
  id: string;
  img: number;
  image: Float32Array;
  inputSize: [number, number];
  originalSize: [number, number];
  objects: { prompt: PromptTokens }[];
}

/** The model-frame tokens of a caller's prompt (SAM's predictor: apply_coords / apply_boxes, then tokens). */
export function inferencePromptTokens(prompt: InferencePrompt, originalSize: readonly [number, number], img: number): PromptTokens {
  const box = prompt.box ? (Array.from(applyBoxes(prompt.box, originalSize, img)) as Box) : undefined;
  const pts = prompt.points ?? [];
  if (pts.length === 0) {
    if (!box) throw new Error('an inference prompt needs a box or at least one point');
    return boxPrompt(box);
  }
  const labels = prompt.labels ?? pts.map(() => 1);
  const scaled = applyCoords(pts.flat(), originalSize, img);
  const points = pts.map((_, i): [number, number] => [scaled[2 * i]!, scaled[2 * i + 1]!]);
  return pointPrompt(points, labels, box);
}

/** An image and its prompts for inference: no augmentation, no ground truth. */
export async function prepareForInference(
  sample: { id?: string; image: RgbImage },
  prompts: readonly InferencePrompt[],
  opts: { img: number; resizeMethod?: ResizeMethod },
): Promise<InferenceSample> {
  const { width: W, height: H, data } = sample.image;
  if (data.length !== W * H * 3) throw new Error(`image has ${data.length} bytes, expected ${H} x ${W} x 3`);
  const { data: image, inputSize } = await modelFrameImage(sample.image, opts.img, opts.resizeMethod);
  const originalSize: [number, number] = [H, W];
  return { id: sample.id ?? '', img: opts.img, image, inputSize, originalSize, objects: prompts.map((p) => ({ prompt: inferencePromptTokens(p, originalSize, opts.img) })) };
}

/** The inference graph's feeds (images, point_coords, point_labels_onehot[, mask inputs]). */
export function collateInference(samples: readonly InferenceSample[], opts: CollateOptions = {}): Record<string, BatchFeed> {
  const { img, k, p } = sameLayout(samples);
  return promptAndImageFeeds(samples, img, k, p, opts);
}
