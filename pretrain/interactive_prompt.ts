// SAM's interactive prompt simulation for one training object (Kirillov et al. 2023, appendix
// "Training algorithm"): the first prompt is, with equal probability, the object's box (each side
// pushed out by up to 10% of its length) or one positive point drawn uniformly from the mask; each
// later iteration adds one point drawn uniformly from the error region of the previous prediction
// (a missed object pixel: positive; a wrongly covered background pixel: negative), and feeds the
// previous low-res logits back as the mask prompt.
//
// Token layout (static per graph, tokens beyond the prompt are padding, label -1):
//   box:    [added points..., box top-left, box bottom-right, padding...]
//   points: [first point, added points..., padding...]
// which is what SAM's predictor builds (points, then the box; a padding point when there is no box).

import { boxFromMask, maskBounds, samplePoints } from '../shared/data/prompts.js';
import type { BinaryMask } from '../shared/data/types.js';
import type { Rng } from '../shared/random/rng.js';
import { LABEL_SLOTS } from '../shared/sam/prompt_encoder.js';

export interface InteractivePrompt {
  box: [number, number, number, number] | null;
  points: [number, number][];
  labels: number[];
}

/** Box or one point, probability 1/2 each. A point prompt is ambiguous (SAM's multimask case). */
export function firstPrompt(mask: BinaryMask, rng: Rng): InteractivePrompt {
  if (rng.next() < 0.5) {
    const tight = maskBounds(mask) ?? [0, 0, mask.width - 1, mask.height - 1];
    const w = tight[2] - tight[0] + 1;
    const h = tight[3] - tight[1] + 1;
    const jitter = Math.max(1, Math.round(0.1 * Math.min(w, h)));
    return { box: boxFromMask(mask, rng, jitter), points: [], labels: [] };
  }
  const { points, labels } = samplePoints(mask, rng, 1, 0);
  return { box: null, points, labels };
}

export const isAmbiguous = (p: InteractivePrompt): boolean => p.box === null && p.points.length === 1;

/**
 * One point from where `lowRes` (logits [low * low], nearest-sampled at model-frame pixels) and the
 * mask disagree; null when they agree everywhere.
 */
export function errorPoint(mask: BinaryMask, lowRes: Float32Array, low: number, rng: Rng): { point: [number, number]; label: number } | null {
  const { width: W, height: H, data } = mask;
  const sx = low / W;
  const sy = low / H;
  const errors: number[] = [];
  for (let y = 0; y < H; y++) {
    const row = Math.min(low - 1, Math.floor((y + 0.5) * sy)) * low;
    for (let x = 0; x < W; x++) {
      const pred = lowRes[row + Math.min(low - 1, Math.floor((x + 0.5) * sx))]! > 0;
      if (pred !== data[y * W + x]! > 0) errors.push(y * W + x);
    }
  }
  if (errors.length === 0) return null;
  const p = errors[rng.int(0, errors.length - 1)]!;
  return { point: [p % W, Math.floor(p / W)], label: data[p]! > 0 ? 1 : 0 };
}

/** Tokens needed by a prompt (before padding). */
export function tokenCount(p: InteractivePrompt): number {
  return p.points.length + (p.box ? 2 : 1);
}

/** Writes the prompt as `slots` tokens at `offset` (tokens) of coords [.., 2] and one-hot labels [.., 5]. */
export function writeTokens(p: InteractivePrompt, slots: number, coords: Float32Array, labels: Float32Array, offset: number): void {
  const need = tokenCount(p);
  if (need > slots) throw new Error(`prompt needs ${need} tokens, the graph has ${slots}`);
  const xy: [number, number][] = [...p.points];
  const lab: number[] = [...p.labels];
  if (p.box) {
    xy.push([p.box[0], p.box[1]], [p.box[2], p.box[3]]);
    lab.push(2, 3);
  }
  while (xy.length < slots) {
    xy.push([0, 0]);
    lab.push(-1);
  }
  for (let i = 0; i < slots; i++) {
    const t = offset + i;
    coords[2 * t] = xy[i]![0];
    coords[2 * t + 1] = xy[i]![1];
    labels.fill(0, t * LABEL_SLOTS, (t + 1) * LABEL_SLOTS);
    labels[t * LABEL_SLOTS + lab[i]! + 1] = 1;
  }
}
