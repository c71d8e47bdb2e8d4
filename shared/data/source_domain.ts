// The pretraining ("source") domain: what the bundled small SAM learns from. Plain, solid objects
// (a filled rotated ellipse, a star-shaped polygon or a rotated rectangle) on a flat or gently
// graded background with little noise, colours far apart; 0-2 distractor objects (same families,
// other colours) lie under the target, so a prompt has to pick the object out. The mask is the
// target's visible pixels. No holes, no texture, no low contrast: those are the demo's target domain
// (demo_data.ts), where this model is meant to be weak until a LoRA adapts it.
//
// Image `index` of a split comes from sampleRng(seed, 0, `source/${split}/${index}`, 'source'), so it is
// reproducible and independent of how many images are drawn. Generated in memory (pretraining never
// touches the disk); writeSourceSplit writes a split as PNGs (the demo job's source-domain check).

import { mkdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import type { Rng } from '../random/rng.js';
import { encodeMaskPng, encodeRgbPng } from './demo_data.js';
import { sampleRng } from './sample_rng.js';
import { type Inside, ellipseTest, polygonTest, randomPolygon, rectangleTest } from './shapes.js';
import type { BinaryMask, RgbImage } from './types.js';

export const SOURCE_KINDS = ['ellipse', 'polygon', 'rectangle'] as const;
export type SourceKind = (typeof SOURCE_KINDS)[number];

export interface SourceSample {
  name: string;
  kind: SourceKind;
  image: RgbImage;
  mask: BinaryMask;
}

type Rgb = [number, number, number];

const colour = (rng: Rng): Rgb => [rng.int(0, 255), rng.int(0, 255), rng.int(0, 255)];
const dist = (a: Rgb, b: Rgb): number => Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);

/** A colour at least `min` away from every colour of `avoid` (the best of 32 tries otherwise). */
function distinctColour(rng: Rng, avoid: readonly Rgb[], min: number): Rgb {
  const score = (c: Rgb): number => Math.min(...avoid.map((a) => dist(c, a)));
  let best = colour(rng);
  for (let t = 0; t < 32 && score(best) < min; t++) {
    const c = colour(rng);
    if (score(c) > score(best)) best = c;
  }
  return best;
}

/** A shape of `kind` with outer diameter `diameter`, wholly inside a size x size image. */
function sourceShape(kind: SourceKind, rng: Rng, size: number, diameter: number): Inside {
  const r = diameter / 2;
  const margin = Math.max(1, size * 0.02);
  const cx = rng.uniform(r + margin, size - r - margin);
  const cy = rng.uniform(r + margin, size - r - margin);
  const theta = rng.uniform(0, Math.PI);
  switch (kind) {
    case 'ellipse':
      return ellipseTest(cx, cy, r, r * rng.uniform(0.45, 1), theta);
    case 'polygon': {
      const { vx, vy } = randomPolygon(rng, cx, cy, r, theta);
      return polygonTest(vx, vy);
    }
    case 'rectangle': {
      // Half-diagonal r: the rectangle fits the same circle.
      const aspect = rng.uniform(0.35, 1);
      const a = r / Math.sqrt(1 + aspect * aspect);
      return rectangleTest(cx, cy, a, a * aspect, theta);
    }
  }
}

/** Image `index` of `split`: deterministic in (seed, split, index, size). */
export function generateSourceSample(seed: number, split: 'train' | 'test', index: number, size: number): SourceSample {
  if (!(Number.isInteger(size) && size >= 16)) throw new Error(`source image size must be an integer >= 16 (got ${size})`);
  const rng = sampleRng(seed, 0, `source/${split}/${index}`, 'source');
  const kind = SOURCE_KINDS[index % SOURCE_KINDS.length]!;
  const c0 = colour(rng);
  const graded = rng.next() < 0.5;
  const c1: Rgb = graded ? [c0[0] + rng.uniform(-40, 40), c0[1] + rng.uniform(-40, 40), c0[2] + rng.uniform(-40, 40)] : c0;
  const gAngle = rng.uniform(0, 2 * Math.PI);
  const gx = Math.cos(gAngle);
  const gy = Math.sin(gAngle);
  const noise = rng.uniform(1, 6);

  const distractors = rng.int(0, 2);
  const layers: { inside: Inside; rgb: Rgb }[] = [];
  const used: Rgb[] = [c0, c1];
  for (let d = 0; d < distractors; d++) {
    const rgb = distinctColour(rng, used, 90);
    used.push(rgb);
    const dKind = SOURCE_KINDS[rng.int(0, SOURCE_KINDS.length - 1)]!;
    layers.push({ inside: sourceShape(dKind, rng, size, size * rng.uniform(0.15, 0.45)), rgb });
  }
  const target: Rgb = distinctColour(rng, used, 120);
  const inside = sourceShape(kind, rng, size, size * rng.uniform(0.25, 0.65));
  const shadeAngle = rng.uniform(0, 2 * Math.PI);
  const hx = Math.cos(shadeAngle);
  const hy = Math.sin(shadeAngle);
  const shade = rng.uniform(0, 20);

  const image = new Uint8Array(size * size * 3);
  const mask = new Uint8Array(size * size);
  const half = size / 2;
  const clamp = (v: number): number => (v <= 0 ? 0 : v >= 255 ? 255 : (v + 0.5) | 0);
  let ns = Math.floor(rng.next() * 4294967296) | 1;
  const nextNoise = (): number => {
    ns ^= ns << 13;
    ns ^= ns >>> 17;
    ns ^= ns << 5;
    return ns / 2147483648;
  };
  for (let y = 0; y < size; y++) {
    const py = y + 0.5;
    for (let x = 0; x < size; x++) {
      const px = x + 0.5;
      const p = y * size + x;
      let rgb: Rgb;
      let s = 0;
      if (inside(px, py)) {
        mask[p] = 1;
        rgb = target;
        s = (shade * ((px - half) * hx + (py - half) * hy)) / half;
      } else {
        const layer = layers.findLast((l) => l.inside(px, py));
        if (layer) rgb = layer.rgb;
        else {
          const t = Math.min(1, Math.max(0, 0.5 + ((px - half) * gx + (py - half) * gy) / size));
          rgb = [c0[0] + (c1[0] - c0[0]) * t, c0[1] + (c1[1] - c0[1]) * t, c0[2] + (c1[2] - c0[2]) * t];
        }
      }
      for (let c = 0; c < 3; c++) image[3 * p + c] = clamp(rgb[c]! + s + noise * nextNoise());
    }
  }
  return { name: `${String(index).padStart(4, '0')}_${kind}`, kind, image: { width: size, height: size, data: image }, mask: { width: size, height: size, data: mask } };
}

/** Writes `count` source-domain images of `split` as DIR/{images,masks}/NNNN_kind.png (the reference layout). */
export async function writeSourceSplit(dir: string, seed: number, split: 'train' | 'test', count: number, size: number): Promise<void> {
  await mkdir(path.join(dir, 'images'), { recursive: true });
  await mkdir(path.join(dir, 'masks'), { recursive: true });
  for (let i = 0; i < count; i++) {
    const s = generateSourceSample(seed, split, i, size);
    await writeFile(path.join(dir, 'images', `${s.name}.png`), await encodeRgbPng(s.image));
    await writeFile(path.join(dir, 'masks', `${s.name}.png`), await encodeMaskPng(s.mask));
  }
}
