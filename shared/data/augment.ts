// Training augmentation on the original-resolution image (before the longest-side resize):
// horizontal flip of the image and its masks together, and colour jitter.
//
// Every call draws the same four numbers from the rng in the same order (flip, brightness,
// contrast, saturation) whatever is enabled, so the draws depend only on the sample's rng.
// Colour jitter follows torchvision's ColorJitter arithmetic in a fixed order:
// brightness x * b; contrast blend with the mean grey level m: (x - m) * c + m; saturation blend
// with the pixel's own grey level g: (x - g) * s + g; grey = 0.299 R + 0.587 G + 0.114 B; the
// result is rounded and clamped to 0..255 after each step (as on uint8 tensors).

import type { Rng } from '../random/rng.js';
import type { BinaryMask, RgbImage } from './types.js';

export interface AugmentOptions {
  /** Probability of a horizontal flip (default 0.5). */
  flip?: number;
  /** Factor ranges [lo, hi], drawn uniformly; [1, 1] disables one (defaults [0.8, 1.2]). */
  brightness?: readonly [number, number];
  contrast?: readonly [number, number];
  saturation?: readonly [number, number];
}

export interface AugmentParams {
  flip: boolean;
  brightness: number;
  contrast: number;
  saturation: number;
}

export const DEFAULT_AUGMENT: Required<AugmentOptions> = { flip: 0.5, brightness: [0.8, 1.2], contrast: [0.8, 1.2], saturation: [0.8, 1.2] };

/** Parameters that change nothing. */
export const NO_AUGMENT: Readonly<AugmentParams> = { flip: false, brightness: 1, contrast: 1, saturation: 1 };

function checkRange(name: string, r: readonly [number, number]): void {
  if (!(r.length === 2 && Number.isFinite(r[0]) && Number.isFinite(r[1]) && r[0] >= 0 && r[0] <= r[1])) {
    throw new Error(`augment ${name} range must be [lo, hi] with 0 <= lo <= hi (got ${JSON.stringify(r)})`);
  }
}

/** Draws one sample's augmentation (4 draws, always). */
export function drawAugment(rng: Rng, opts: AugmentOptions = {}): AugmentParams {
  const o = { ...DEFAULT_AUGMENT, ...opts };
  if (!(o.flip >= 0 && o.flip <= 1)) throw new Error(`augment flip probability must be in [0, 1] (got ${o.flip})`);
  checkRange('brightness', o.brightness);
  checkRange('contrast', o.contrast);
  checkRange('saturation', o.saturation);
  const f = rng.next();
  const b = rng.next();
  const c = rng.next();
  const s = rng.next();
  const lerp = (r: readonly [number, number], u: number): number => r[0] + (r[1] - r[0]) * u;
  return { flip: f < o.flip, brightness: lerp(o.brightness, b), contrast: lerp(o.contrast, c), saturation: lerp(o.saturation, s) };
}

export function flipImage(image: RgbImage): RgbImage {
  const { width: W, height: H, data } = image;
  const out = new Uint8Array(data.length);
  for (let y = 0; y < H; y++) {
    const row = y * W * 3;
    for (let x = 0; x < W; x++) {
      const s = row + x * 3;
      const d = row + (W - 1 - x) * 3;
      out[d] = data[s]!;
      out[d + 1] = data[s + 1]!;
      out[d + 2] = data[s + 2]!;
    }
  }
  return { width: W, height: H, data: out };
}

export function flipMask(mask: BinaryMask): BinaryMask {
  const { width: W, height: H, data } = mask;
  const out = new Uint8Array(data.length);
  for (let y = 0; y < H; y++) {
    const row = y * W;
    for (let x = 0; x < W; x++) out[row + W - 1 - x] = data[row + x]!;
  }
  return { width: W, height: H, data: out };
}

const clampRound = (v: number): number => (v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v));
const grey = (r: number, g: number, b: number): number => 0.299 * r + 0.587 * g + 0.114 * b;

/** Brightness, contrast, saturation in that order (factors of 1 are skipped). */
export function colourJitter(image: RgbImage, p: Pick<AugmentParams, 'brightness' | 'contrast' | 'saturation'>): RgbImage {
  const data = image.data.slice();
  const n = image.width * image.height;
  if (p.brightness !== 1) for (let i = 0; i < data.length; i++) data[i] = clampRound(data[i]! * p.brightness);
  if (p.contrast !== 1) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += grey(data[3 * i]!, data[3 * i + 1]!, data[3 * i + 2]!);
    const m = n > 0 ? sum / n : 0;
    for (let i = 0; i < data.length; i++) data[i] = clampRound((data[i]! - m) * p.contrast + m);
  }
  if (p.saturation !== 1) {
    for (let i = 0; i < n; i++) {
      const o = 3 * i;
      const g = grey(data[o]!, data[o + 1]!, data[o + 2]!);
      for (let c = 0; c < 3; c++) data[o + c] = clampRound((data[o + c]! - g) * p.saturation + g);
    }
  }
  return { width: image.width, height: image.height, data };
}

/** Applies drawn parameters: colour jitter on the image, the flip on the image and every mask. */
export function applyAugment(image: RgbImage, masks: readonly BinaryMask[], p: AugmentParams): { image: RgbImage; masks: BinaryMask[] } {
  for (const m of masks) {
    if (m.width !== image.width || m.height !== image.height) throw new Error(`augment: mask ${m.height} x ${m.width} does not match the image ${image.height} x ${image.width}`);
  }
  let img = p.brightness !== 1 || p.contrast !== 1 || p.saturation !== 1 ? colourJitter(image, p) : image;
  let out = [...masks];
  if (p.flip) {
    img = flipImage(img);
    out = out.map(flipMask);
  }
  return { image: img, masks: out };
}

/** Draws and applies one sample's augmentation; returns what was drawn too. */
export function augmentSample(image: RgbImage, masks: readonly BinaryMask[], rng: Rng, opts: AugmentOptions = {}): { image: RgbImage; masks: BinaryMask[]; params: AugmentParams } {
  const params = drawAugment(rng, opts);
  return { ...applyAugment(image, masks, params), params };
}
