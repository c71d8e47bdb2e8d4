// Overlays: the image at its original size with a predicted mask as a translucent colour fill, the
// ground truth as a contour in another colour, and (predict) the prompt drawn on top.
//
// The contour of a mask is its pixels with at least one 4-neighbour outside the mask (a pixel on the
// image border counts: beyond the border is outside). On images larger than 512 px it is thickened
// (dilated) so it stays visible at full-image zoom: radius round(max(W, H) / 512).
//
// Colours: prediction fill blue (30, 120, 255) at 50 %; ground-truth contour red (255, 40, 40);
// box prompt green (0, 230, 0); positive points green, negative points red, with a black rim.

import type { RgbImage } from '../../shared/data/types.js';

export type Colour = readonly [number, number, number];

export const PRED_FILL: Colour = [30, 120, 255];
export const PRED_ALPHA = 0.5;
export const GT_CONTOUR: Colour = [255, 40, 40];
export const BOX_COLOUR: Colour = [0, 230, 0];
export const POSITIVE_POINT: Colour = [0, 230, 0];
export const NEGATIVE_POINT: Colour = [255, 40, 40];

/** 1 for every mask pixel (value > 0) with a 4-neighbour outside the mask or the image, else 0. */
export function maskContour(mask: ArrayLike<number>, width: number, height: number): Uint8Array {
  if (mask.length !== width * height) throw new Error(`maskContour: ${mask.length} pixels for ${width} x ${height}`);
  const out = new Uint8Array(width * height);
  const on = (x: number, y: number): boolean => x >= 0 && y >= 0 && x < width && y < height && mask[y * width + x]! > 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (!on(x, y)) continue;
      if (!on(x - 1, y) || !on(x + 1, y) || !on(x, y - 1) || !on(x, y + 1)) out[y * width + x] = 1;
    }
  }
  return out;
}

/** The mask grown by a disc of the given radius (0: a copy). */
export function dilate(mask: Uint8Array, width: number, height: number, radius: number): Uint8Array {
  if (radius <= 0) return Uint8Array.from(mask);
  const out = new Uint8Array(width * height);
  const r2 = radius * radius;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (!mask[y * width + x]) continue;
      for (let dy = -radius; dy <= radius; dy++) {
        const yy = y + dy;
        if (yy < 0 || yy >= height) continue;
        for (let dx = -radius; dx <= radius; dx++) {
          const xx = x + dx;
          if (xx >= 0 && xx < width && dx * dx + dy * dy <= r2) out[yy * width + xx] = 1;
        }
      }
    }
  }
  return out;
}

/** Line thickening radius for an image of this size (see the header). */
export function strokeRadius(width: number, height: number): number {
  return Math.round(Math.max(width, height) / 512);
}

/** Union (logical or) of several masks of one size; values > 0 count as on. */
export function unionMask(masks: readonly ArrayLike<number>[], n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (const m of masks) {
    if (m.length !== n) throw new Error(`unionMask: a mask has ${m.length} pixels, expected ${n}`);
    for (let i = 0; i < n; i++) if (m[i]! > 0) out[i] = 1;
  }
  return out;
}

export interface OverlayLayers {
  /** Predicted mask (values > 0 are filled). */
  fill?: ArrayLike<number>;
  /** Ground-truth masks, each outlined by its contour. */
  truth?: readonly ArrayLike<number>[];
}

/** A copy of the image with the prediction filled and the ground truth outlined. */
export function renderOverlay(image: RgbImage, layers: OverlayLayers): RgbImage {
  const { width: W, height: H } = image;
  const n = W * H;
  const data = Uint8Array.from(image.data);
  if (layers.fill) {
    const fill = layers.fill;
    if (fill.length !== n) throw new Error(`overlay: the prediction has ${fill.length} pixels, the image ${n}`);
    for (let i = 0; i < n; i++) {
      if (!(fill[i]! > 0)) continue;
      for (let c = 0; c < 3; c++) data[3 * i + c] = Math.round((1 - PRED_ALPHA) * data[3 * i + c]! + PRED_ALPHA * PRED_FILL[c]!);
    }
  }
  if (layers.truth?.length) {
    const edges = unionMask(
      layers.truth.map((m) => maskContour(m, W, H)),
      n,
    );
    const thick = dilate(edges, W, H, strokeRadius(W, H));
    for (let i = 0; i < n; i++) if (thick[i]) data.set(GT_CONTOUR, 3 * i);
  }
  return { width: W, height: H, data };
}

function setPixel(img: RgbImage, x: number, y: number, c: Colour): void {
  if (x < 0 || y < 0 || x >= img.width || y >= img.height) return;
  img.data.set(c, 3 * (y * img.width + x));
}

/** Draws a box outline (in place), corners in pixel coordinates, clipped to the image. */
export function drawBox(img: RgbImage, box: readonly [number, number, number, number], colour: Colour = BOX_COLOUR): void {
  const t = Math.max(1, strokeRadius(img.width, img.height) + 1);
  const [x0, y0, x1, y1] = box.map((v) => Math.round(v)) as [number, number, number, number];
  for (let k = 0; k < t; k++) {
    for (let x = x0; x <= x1; x++) {
      setPixel(img, x, y0 + k, colour);
      setPixel(img, x, y1 - k, colour);
    }
    for (let y = y0; y <= y1; y++) {
      setPixel(img, x0 + k, y, colour);
      setPixel(img, x1 - k, y, colour);
    }
  }
}

/** Draws a point prompt (in place): a filled disc in the label's colour with a black rim. */
export function drawPoint(img: RgbImage, x: number, y: number, label: number): void {
  const r = Math.max(3, Math.round(Math.max(img.width, img.height) / 100));
  const cx = Math.round(x);
  const cy = Math.round(y);
  const colour = label === 1 ? POSITIVE_POINT : NEGATIVE_POINT;
  for (let dy = -r - 1; dy <= r + 1; dy++) {
    for (let dx = -r - 1; dx <= r + 1; dx++) {
      const d2 = dx * dx + dy * dy;
      if (d2 <= r * r) setPixel(img, cx + dx, cy + dy, colour);
      else if (d2 <= (r + 1) * (r + 1)) setPixel(img, cx + dx, cy + dy, [0, 0, 0]);
    }
  }
}
