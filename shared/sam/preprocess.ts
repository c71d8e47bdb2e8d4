// Host-side input preparation in SAM's model frame: normalise + zero-pad images, build prompt
// tokens (the layout prompt_encoder.ts documents), and pad masks with their valid region.

import { SAM_CONSTANTS } from './config.js';
import { LABEL_SLOTS } from './prompt_encoder.js';

/** image [3, h, w] RGB 0..255 -> [3, img, img]: (x - mean) / std, then zero padding right and bottom. */
export function normalizeAndPad(image: Float32Array, h: number, w: number, img: number): Float32Array {
  if (image.length !== 3 * h * w) throw new Error(`image has ${image.length} values, expected 3 x ${h} x ${w}`);
  if (h > img || w > img) throw new Error(`image ${h}x${w} is larger than the model input ${img}`);
  const out = new Float32Array(3 * img * img);
  for (let c = 0; c < 3; c++) {
    const mean = SAM_CONSTANTS.pixelMean[c]!;
    const std = SAM_CONSTANTS.pixelStd[c]!;
    for (let y = 0; y < h; y++) {
      for (let x = 0; x < w; x++) out[(c * img + y) * img + x] = (image[(c * h + y) * w + x]! - mean) / std;
    }
  }
  return out;
}

/** mask [h, w] -> [img, img] zero-padded, and the valid-region indicator [img, img]. */
export function padMask(mask: ArrayLike<number>, h: number, w: number, img: number): { mask: Float32Array; valid: Float32Array } {
  const m = new Float32Array(img * img);
  const v = new Float32Array(img * img);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      m[y * img + x] = mask[y * w + x]! > 0.5 ? 1 : 0;
      v[y * img + x] = 1;
    }
  }
  return { mask: m, valid: v };
}

export interface PromptTokens {
  /** [P, 2] x, y in the model frame. */
  coords: Float32Array;
  /** [P, 5] one-hot of label + 1 (labels -1, 0, 1, 2, 3). */
  labelsOneHot: Float32Array;
  count: number;
}

function tokens(coords: readonly [number, number][], labels: readonly number[]): PromptTokens {
  const n = coords.length;
  const c = new Float32Array(n * 2);
  const l = new Float32Array(n * LABEL_SLOTS);
  coords.forEach(([x, y], i) => {
    c[2 * i] = x;
    c[2 * i + 1] = y;
    const label = labels[i]!;
    if (!Number.isInteger(label) || label < -1 || label > 3) throw new Error(`prompt label ${label} is not one of -1, 0, 1, 2, 3`);
    l[i * LABEL_SLOTS + label + 1] = 1;
  });
  return { coords: c, labelsOneHot: l, count: n };
}

/** A box x0, y0, x1, y1 as SAM's two corner tokens. */
export function boxPrompt(box: readonly [number, number, number, number]): PromptTokens {
  return tokens(
    [
      [box[0], box[1]],
      [box[2], box[3]],
    ],
    [2, 3],
  );
}

/** Points with labels (1 positive, 0 negative); SAM appends one padding point when there is no box. */
export function pointPrompt(points: readonly [number, number][], labels: readonly number[], box?: readonly [number, number, number, number]): PromptTokens {
  if (points.length !== labels.length) throw new Error(`${points.length} points but ${labels.length} labels`);
  if (box) return tokens([...points, [box[0], box[1]], [box[2], box[3]]], [...labels, 2, 3]);
  return tokens([...points, [0, 0]], [...labels, -1]);
}
