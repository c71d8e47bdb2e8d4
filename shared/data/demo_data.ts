// The demo job's dataset, the "target domain" of the bundled small SAM (which was pretrained on
// plain filled objects on simple backgrounds, source_domain.ts): one object with a hole per image
// (a ring, i.e. an elliptical annulus; an ellipse pierced off-centre; or a star-shaped polygon of
// 6-8 vertices with an elliptical hole) in low contrast on a textured background (two-colour
// gradient + two crossed sinusoidal stripe patterns + per-pixel noise), the hole showing the
// background. The mask is the object's exact pixel set (a pixel belongs to the shape when its centre
// does; no antialiasing). A shape's outer diameter is 44-84% of the image side and it lies wholly
// inside the image; its colour is 55-95 (RGB distance) from the background's mean colour, which the
// stripes and noise vary by about as much. The base model fills the holes and follows the texture;
// a LoRA learns the domain (README, "The two commands").
//
// Everything about image i of a split comes from sampleRng(seed, 0, `${split}/${i}`, 'demo'): the
// files do not depend on how many images are asked for or on the order of generation, and the same
// seed gives byte-identical PNGs (for a given sharp/libvips build). PNGs use zlib level 1 without
// adaptive filtering: the noisy textures barely compress anyway, and it halves the encoding time.
// Kinds cycle ring, ellipse, polygon so every split is balanced.
// Layout (the reference project's): DIR/{train,test}/{images,masks}/NNNN_kind.png, masks 8-bit grey 0/255.

import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import sharp from 'sharp';
import type { Rng } from '../random/rng.js';
import { sampleRng } from './sample_rng.js';
import { type Inside, ellipseTest, polygonTest, randomPolygon } from './shapes.js';
import type { BinaryMask, RgbImage } from './types.js';

export const SHAPE_KINDS = ['ring', 'ellipse', 'polygon'] as const;
export type ShapeKind = (typeof SHAPE_KINDS)[number];
export type Split = 'train' | 'test';

export interface DemoOptions {
  seed?: number;
  train?: number;
  test?: number;
  /** Image side in pixels (square images). */
  size?: number;
}

export const DEMO_DEFAULTS: Required<DemoOptions> = { seed: 0, train: 48, test: 12, size: 256 };

export interface DemoSample {
  /** Base file name (without extension). */
  name: string;
  kind: ShapeKind;
  image: RgbImage;
  mask: BinaryMask;
}

type Rgb = [number, number, number];

const randomColour = (rng: Rng): Rgb => [rng.int(0, 255), rng.int(0, 255), rng.int(0, 255)];

function shapeTest(kind: ShapeKind, rng: Rng, size: number): Inside {
  const r = (size * rng.uniform(0.44, 0.84)) / 2;
  const margin = Math.max(1, size * 0.02);
  const cx = rng.uniform(r + margin, size - r - margin);
  const cy = rng.uniform(r + margin, size - r - margin);
  const theta = rng.uniform(0, Math.PI);
  let outer: Inside;
  let hole: Inside;
  switch (kind) {
    case 'ring': {
      const b = r * rng.uniform(0.75, 1);
      const k = rng.uniform(0.5, 0.68);
      outer = ellipseTest(cx, cy, r, b, theta);
      hole = ellipseTest(cx, cy, r * k, b * k, theta);
      break;
    }
    case 'ellipse': {
      const b = r * rng.uniform(0.65, 1);
      const k = rng.uniform(0.42, 0.58);
      const off = rng.uniform(0, 0.3 * (1 - k));
      const dir = rng.uniform(0, 2 * Math.PI);
      outer = ellipseTest(cx, cy, r, b, theta);
      hole = ellipseTest(cx + off * r * Math.cos(dir), cy + off * b * Math.sin(dir), r * k, b * k, theta + rng.uniform(-0.5, 0.5));
      break;
    }
    case 'polygon': {
      // 6-8 vertices at 80-100% of r keep every edge beyond 0.53 r: the hole stays inside.
      const { vx, vy } = randomPolygon(rng, cx, cy, r, theta, 6, 0.8);
      const k = rng.uniform(0.3, 0.42);
      outer = polygonTest(vx, vy);
      hole = ellipseTest(cx, cy, r * k, r * k * rng.uniform(0.7, 1), rng.uniform(0, Math.PI));
      break;
    }
  }
  return (x, y) => outer(x, y) && !hole(x, y);
}

/** Image `index` of `split`: deterministic in (seed, split, index, size). */
export function generateDemoSample(seed: number, split: Split, index: number, size: number): DemoSample {
  if (!(Number.isInteger(size) && size >= 16)) throw new Error(`demo image size must be an integer >= 16 (got ${size})`);
  const rng = sampleRng(seed, 0, `${split}/${index}`, 'demo');
  const kind = SHAPE_KINDS[index % SHAPE_KINDS.length]!;

  // Background: gradient c0 -> c1 along a random direction, two stripe patterns, noise.
  const c0 = randomColour(rng);
  const c1: Rgb = [c0[0] + rng.uniform(-50, 50), c0[1] + rng.uniform(-50, 50), c0[2] + rng.uniform(-50, 50)];
  const gAngle = rng.uniform(0, 2 * Math.PI);
  const gx = Math.cos(gAngle);
  const gy = Math.sin(gAngle);
  const stripeAngle = rng.uniform(0, Math.PI);
  const sx = Math.cos(stripeAngle);
  const sy = Math.sin(stripeAngle);
  const period = rng.uniform(0.05, 0.2) * size;
  const phase = rng.uniform(0, 2 * Math.PI);
  const stripeAmp = rng.uniform(10, 25);
  const stripeTint: Rgb = [rng.uniform(-1, 1), rng.uniform(-1, 1), rng.uniform(-1, 1)];
  const crossAngle = stripeAngle + rng.uniform(0.6, 1.4);
  const cw = (2 * Math.PI) / (rng.uniform(0.04, 0.12) * size);
  const cxw = Math.cos(crossAngle) * cw;
  const cyw = Math.sin(crossAngle) * cw;
  const crossAmp = rng.uniform(5, 14);
  const bgNoise = rng.uniform(4, 12);

  // Object colour: 55-95 away from the background's mean colour (low contrast).
  const mean: Rgb = [(c0[0] + c1[0]) / 2, (c0[1] + c1[1]) / 2, (c0[2] + c1[2]) / 2];
  const dirv: Rgb = [rng.normal(), rng.normal(), rng.normal()];
  const norm = Math.hypot(...dirv) || 1;
  const contrast = rng.uniform(55, 95);
  const co: Rgb = [mean[0] + (contrast * dirv[0]) / norm, mean[1] + (contrast * dirv[1]) / norm, mean[2] + (contrast * dirv[2]) / norm];
  const shadeAngle = rng.uniform(0, 2 * Math.PI);
  const hx = Math.cos(shadeAngle);
  const hy = Math.sin(shadeAngle);
  const shadeAmp = rng.uniform(0, 20);
  const objNoise = rng.uniform(4, 10);

  const inside = shapeTest(kind, rng, size);
  const image = new Uint8Array(size * size * 3);
  const mask = new Uint8Array(size * size);
  const half = size / 2;
  const w = (2 * Math.PI) / period;
  const clamp = (v: number): number => (v <= 0 ? 0 : v >= 255 ? 255 : (v + 0.5) | 0);
  // Per-pixel noise in [-1, 1) from a xorshift32 seeded by the sample rng (fast, allocation-free).
  const noise = new Float32Array(size * size * 3);
  let ns = Math.floor(rng.next() * 4294967296) | 1;
  for (let i = 0; i < noise.length; i++) {
    ns ^= ns << 13;
    ns ^= ns >>> 17;
    ns ^= ns << 5;
    noise[i] = ns / 2147483648;
  }
  // Stripes sin(w * (px * sx + py * sy) + phase), advanced along each row by rotation.
  const step = w * sx;
  const cs = Math.cos(step);
  const sn = Math.sin(step);
  const ccs = Math.cos(cxw);
  const csn = Math.sin(cxw);
  for (let y = 0; y < size; y++) {
    const py = y + 0.5;
    const a0 = w * (0.5 * sx + py * sy) + phase;
    let sinA = Math.sin(a0);
    let sinB = Math.sin(cxw * 0.5 + cyw * py);
    let cosB = Math.cos(cxw * 0.5 + cyw * py);
    let cosA = Math.cos(a0);
    for (let x = 0; x < size; x++) {
      const px = x + 0.5;
      const p = y * size + x;
      const o = 3 * p;
      if (inside(px, py)) {
        mask[p] = 1;
        const shade = (shadeAmp * ((px - half) * hx + (py - half) * hy)) / half;
        image[o] = clamp(co[0] + shade + objNoise * noise[o]!);
        image[o + 1] = clamp(co[1] + shade + objNoise * noise[o + 1]!);
        image[o + 2] = clamp(co[2] + shade + objNoise * noise[o + 2]!);
      } else {
        const t = Math.min(1, Math.max(0, 0.5 + ((px - half) * gx + (py - half) * gy) / size));
        const stripe = stripeAmp * sinA + crossAmp * sinB;
        image[o] = clamp(c0[0] + (c1[0] - c0[0]) * t + stripe * stripeTint[0] + bgNoise * noise[o]!);
        image[o + 1] = clamp(c0[1] + (c1[1] - c0[1]) * t + stripe * stripeTint[1] + bgNoise * noise[o + 1]!);
        image[o + 2] = clamp(c0[2] + (c1[2] - c0[2]) * t + stripe * stripeTint[2] + bgNoise * noise[o + 2]!);
      }
      const s2 = sinA * cs + cosA * sn;
      cosA = cosA * cs - sinA * sn;
      sinA = s2;
      const b2 = sinB * ccs + cosB * csn;
      cosB = cosB * ccs - sinB * csn;
      sinB = b2;
    }
  }
  return { name: `${String(index).padStart(4, '0')}_${kind}`, kind, image: { width: size, height: size, data: image }, mask: { width: size, height: size, data: mask } };
}

/** PNG bytes of an RGB image (fixed encoder settings, no metadata: deterministic). */
export function encodeRgbPng(image: RgbImage): Promise<Buffer> {
  return sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
    .png({ compressionLevel: 1, adaptiveFiltering: false })
    .toBuffer();
}

/** PNG bytes of a mask as 8-bit grey 0/255. */
export function encodeMaskPng(mask: BinaryMask): Promise<Buffer> {
  const grey = new Uint8Array(mask.data.length);
  for (let i = 0; i < grey.length; i++) grey[i] = mask.data[i]! > 0 ? 255 : 0;
  return sharp(grey, { raw: { width: mask.width, height: mask.height, channels: 1 } })
    .toColourspace('b-w')
    .png({ compressionLevel: 1, adaptiveFiltering: false })
    .toBuffer();
}

export interface DemoSummary {
  out: string;
  seed: number;
  size: number;
  counts: Record<Split, number>;
  kinds: Record<ShapeKind, number>;
  /** Written files relative to `out`. */
  files: string[];
}

async function isNonEmptyDir(dir: string): Promise<boolean> {
  try {
    return (await readdir(dir)).length > 0;
  } catch {
    return false;
  }
}

/**
 * Writes the dataset under `out`. Refuses when out/train or out/test already holds files, unless
 * `force` (which deletes those two folders first, nothing else).
 */
export async function writeDemoDataset(out: string, options: DemoOptions = {}, force = false): Promise<DemoSummary> {
  const o = { ...DEMO_DEFAULTS, ...options };
  for (const [k, v] of Object.entries({ train: o.train, test: o.test })) {
    if (!(Number.isInteger(v) && v >= 0)) throw new Error(`--${k} must be a non-negative integer (got ${v})`);
  }
  if (!Number.isInteger(o.seed)) throw new Error(`--seed must be an integer (got ${o.seed})`);
  const splits: [Split, number][] = [
    ['train', o.train],
    ['test', o.test],
  ];
  for (const [split] of splits) {
    const dir = path.join(out, split);
    if (await isNonEmptyDir(dir)) {
      if (!force) throw new Error(`${dir} already exists and is not empty (use --force to replace it)`);
      await rm(dir, { recursive: true, force: true });
    }
  }
  const kinds: Record<ShapeKind, number> = { ring: 0, ellipse: 0, polygon: 0 };
  const files: string[] = [];
  for (const [split, count] of splits) {
    await mkdir(path.join(out, split, 'images'), { recursive: true });
    await mkdir(path.join(out, split, 'masks'), { recursive: true });
    const jobs: Promise<void>[] = [];
    for (let i = 0; i < count; i++) {
      const s = generateDemoSample(o.seed, split, i, o.size);
      kinds[s.kind]++;
      const img = path.join(split, 'images', `${s.name}.png`);
      const msk = path.join(split, 'masks', `${s.name}.png`);
      files.push(img, msk);
      jobs.push(encodeRgbPng(s.image).then((b) => writeFile(path.join(out, img), b)));
      jobs.push(encodeMaskPng(s.mask).then((b) => writeFile(path.join(out, msk), b)));
    }
    await Promise.all(jobs);
  }
  return { out, seed: o.seed, size: o.size, counts: { train: o.train, test: o.test }, kinds, files };
}
