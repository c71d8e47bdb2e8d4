// Prompts from ground-truth masks, in the model frame (the mask already resized by
// ResizeLongestSide, before padding), as SAM's prompt tokens.
//
// Boxes follow the reference project (Sam_LoRA, utils.get_bounding_box): the tight box of the
// mask's non-zero pixels (x_min, y_min, x_max, y_max as pixel indices, max inclusive), then each side
// pushed outwards by its own random offset drawn like numpy's randint(0, maxJitter), i.e. uniform in
// 0 .. maxJitter - 1 (default maxJitter 20, so at most 19 px; 0 gives the tight box), clamped as the
// reference does: max(0, x_min - dx0), min(W, x_max + dx1) with W the mask width (likewise y, H).
// The reference computes it on its resized 256 px mask; here the mask is the model-frame one.
//
// Points are pixel indices (x, y) (the prompt encoder adds 0.5 for the pixel centre). Positive points
// are drawn uniformly among the mask's pixels; negative points uniformly among the background pixels
// of a neighbourhood of the object: its tight box grown by `negativeMargin` px per side (default
// maxJitter), clamped to the frame, so negatives are the nearby hard ones a user would click.
// When that neighbourhood holds no background pixel the whole frame's background is used; when there
// is no background at all (or no foreground for positives), the point becomes a padding token
// (label -1), so the token count never changes. Points are distinct while there are enough pixels.
//
// Token counts (static, the training graph's P): box = 2; points = positives + negatives + 1 (SAM's
// padding point, which it appends when there is no box). `mixed` draws per object between a box
// (probability boxProbability, default 0.5) and one positive point: both are 2 tokens, which is why
// mixed requires points = 1 and negativePoints = 0.

import type { Rng } from '../random/rng.js';
import { boxPrompt, pointPrompt, type PromptTokens } from '../sam/preprocess.js';
import type { BinaryMask } from './types.js';

export type Box = [number, number, number, number];
export type PromptMode = 'box' | 'points' | 'mixed';

export interface PromptOptions {
  mode: PromptMode;
  /** Positive points in points mode (default 1; mixed mode requires 1). */
  points?: number;
  /** Negative points in points mode (default 0; mixed mode requires 0). */
  negativePoints?: number;
  /** Box jitter bound, numpy randint(0, jitter) per side (default 20). */
  jitter?: number;
  /** Growth of the tight box, per side, of the region negatives come from (default `jitter`). */
  negativeMargin?: number;
  /** Mixed mode: probability of a box (default 0.5). */
  boxProbability?: number;
}

export interface Prompt {
  kind: 'box' | 'points';
  tokens: PromptTokens;
  /** The box, in box mode. */
  box?: Box;
  /** The points and their labels (1, 0, or -1 where no pixel could be drawn), in points mode. */
  points?: [number, number][];
  labels?: number[];
}

export const DEFAULT_JITTER = 20;

/** Tokens per prompt for a mode: the graph's `promptTokens`. Throws on an impossible mixed mode. */
export function promptTokenCount(opts: Pick<PromptOptions, 'mode' | 'points' | 'negativePoints'>): number {
  const pos = opts.points ?? 1;
  const neg = opts.negativePoints ?? 0;
  if (!(Number.isInteger(pos) && pos >= 0 && Number.isInteger(neg) && neg >= 0)) throw new Error(`point counts must be non-negative integers (got ${pos} positive, ${neg} negative)`);
  switch (opts.mode) {
    case 'box':
      return 2;
    case 'points':
      if (pos + neg === 0) throw new Error('points mode needs at least one point');
      return pos + neg + 1;
    case 'mixed':
      if (pos !== 1 || neg !== 0) throw new Error(`mixed prompts alternate a box (2 tokens) with 1 point + padding (2 tokens): needs points 1 and negativePoints 0 (got ${pos} and ${neg})`);
      return 2;
    default:
      throw new Error(`unknown prompt mode "${String(opts.mode)}" (expected box, points or mixed)`);
  }
}

/** The tight box [x_min, y_min, x_max, y_max] (inclusive pixel indices) of the non-zero pixels; null if none. */
export function maskBounds(mask: BinaryMask): Box | null {
  const { width: W, height: H, data } = mask;
  let x0 = W;
  let y0 = H;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < H; y++) {
    const row = y * W;
    for (let x = 0; x < W; x++) {
      if (data[row + x]! > 0) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        y1 = y;
      }
    }
  }
  return x1 < 0 ? null : [x0, y0, x1, y1];
}

/** numpy's randint(0, n): uniform in 0 .. n - 1; 0 when n <= 0. */
function randint(rng: Rng, n: number): number {
  return n > 0 ? rng.int(0, n - 1) : 0;
}

/**
 * The reference project's box prompt: tight box, each side jittered outwards by randint(0, maxJitter),
 * clamped to [0, W] x [0, H]. An empty mask gives the whole frame [0, 0, W, H]. Always draws 4 numbers.
 */
export function boxFromMask(mask: BinaryMask, rng: Rng, maxJitter = DEFAULT_JITTER): Box {
  if (!(Number.isInteger(maxJitter) && maxJitter >= 0)) throw new Error(`box jitter must be a non-negative integer (got ${maxJitter})`);
  const d = [randint(rng, maxJitter), randint(rng, maxJitter), randint(rng, maxJitter), randint(rng, maxJitter)] as const;
  const tight = maskBounds(mask);
  const W = mask.width;
  const H = mask.height;
  if (!tight) return [0, 0, W, H];
  return [Math.max(0, tight[0] - d[0]), Math.max(0, tight[1] - d[1]), Math.min(W, tight[2] + d[2]), Math.min(H, tight[3] + d[3])];
}

/** Flat pixel indices of a region whose mask value is `inside` (1) or not (0), optionally within a box. */
function pixelsWhere(mask: BinaryMask, inside: boolean, region?: Box): Int32Array {
  const { width: W, height: H, data } = mask;
  const [x0, y0, x1, y1] = region ?? [0, 0, W - 1, H - 1];
  const xa = Math.max(0, Math.floor(x0));
  const ya = Math.max(0, Math.floor(y0));
  const xb = Math.min(W - 1, Math.ceil(x1));
  const yb = Math.min(H - 1, Math.ceil(y1));
  let n = 0;
  const idx = new Int32Array(Math.max(0, (xb - xa + 1) * (yb - ya + 1)));
  for (let y = ya; y <= yb; y++) {
    for (let x = xa; x <= xb; x++) {
      const on = data[y * W + x]! > 0;
      if (on === inside) idx[n++] = y * W + x;
    }
  }
  return idx.subarray(0, n);
}

/** k pixels of `pool` (distinct while the pool is large enough), as (x, y); null entries where it is empty. */
function drawPixels(pool: Int32Array, k: number, width: number, rng: Rng): ([number, number] | null)[] {
  if (k === 0) return [];
  if (pool.length === 0) return new Array<null>(k).fill(null);
  const picks = pool.length >= k ? rng.sample(pool.length, k) : Array.from({ length: k }, () => rng.int(0, pool.length - 1));
  return picks.map((i) => {
    const p = pool[i]!;
    return [p % width, Math.floor(p / width)];
  });
}

export interface PointSample {
  points: [number, number][];
  labels: number[];
}

/**
 * `positive` points inside the mask and `negative` points outside it (see the header for the
 * region); unavailable points are (0, 0) with label -1.
 */
export function samplePoints(mask: BinaryMask, rng: Rng, positive: number, negative: number, negativeMargin = DEFAULT_JITTER): PointSample {
  const W = mask.width;
  const H = mask.height;
  const pos = drawPixels(positive > 0 ? pixelsWhere(mask, true) : new Int32Array(0), positive, W, rng);
  let neg: ([number, number] | null)[] = [];
  if (negative > 0) {
    const tight = maskBounds(mask);
    let pool = tight
      ? pixelsWhere(mask, false, [Math.max(0, tight[0] - negativeMargin), Math.max(0, tight[1] - negativeMargin), Math.min(W - 1, tight[2] + negativeMargin), Math.min(H - 1, tight[3] + negativeMargin)])
      : new Int32Array(0);
    if (pool.length === 0) pool = pixelsWhere(mask, false);
    neg = drawPixels(pool, negative, W, rng);
  }
  const points: [number, number][] = [];
  const labels: number[] = [];
  for (const p of pos) {
    points.push(p ?? [0, 0]);
    labels.push(p ? 1 : -1);
  }
  for (const p of neg) {
    points.push(p ?? [0, 0]);
    labels.push(p ? 0 : -1);
  }
  return { points, labels };
}

/**
 * One object's prompt from its model-frame mask. Deterministic in `rng`: mixed mode first draws the
 * box-or-point choice, then the prompt's own numbers.
 */
export function promptFromMask(mask: BinaryMask, rng: Rng, opts: PromptOptions): Prompt {
  promptTokenCount(opts);
  const jitter = opts.jitter ?? DEFAULT_JITTER;
  let kind: 'box' | 'points' = opts.mode === 'points' ? 'points' : 'box';
  if (opts.mode === 'mixed') kind = rng.next() < (opts.boxProbability ?? 0.5) ? 'box' : 'points';
  if (kind === 'box') {
    const box = boxFromMask(mask, rng, jitter);
    return { kind, box, tokens: boxPrompt(box) };
  }
  const { points, labels } = samplePoints(mask, rng, opts.points ?? 1, opts.negativePoints ?? 0, opts.negativeMargin ?? jitter);
  return { kind, points, labels, tokens: pointPrompt(points, labels) };
}
