// Point-in-shape tests on pixel centres (image coordinates) for the generated datasets: rotated
// ellipses, polygons (even-odd rule) and rotated rectangles, and the star-shaped random polygon.

import type { Rng } from '../random/rng.js';

/** true when the pixel centre (x, y) lies inside the shape. */
export type Inside = (x: number, y: number) => boolean;

export function ellipseTest(cx: number, cy: number, a: number, b: number, theta: number): Inside {
  const c = Math.cos(theta);
  const s = Math.sin(theta);
  return (x, y) => {
    const dx = x - cx;
    const dy = y - cy;
    const u = (dx * c + dy * s) / a;
    const v = (-dx * s + dy * c) / b;
    return u * u + v * v <= 1;
  };
}

export function polygonTest(vx: readonly number[], vy: readonly number[]): Inside {
  const n = vx.length;
  return (x, y) => {
    let inside = false;
    for (let i = 0, j = n - 1; i < n; j = i++) {
      const yi = vy[i]!;
      const yj = vy[j]!;
      if (yi > y !== yj > y && x < ((vx[j]! - vx[i]!) * (y - yi)) / (yj - yi) + vx[i]!) inside = !inside;
    }
    return inside;
  };
}

/** A rectangle of half-sides (a, b) centred on (cx, cy), rotated by theta. */
export function rectangleTest(cx: number, cy: number, a: number, b: number, theta: number): Inside {
  const c = Math.cos(theta);
  const s = Math.sin(theta);
  return (x, y) => {
    const dx = x - cx;
    const dy = y - cy;
    return Math.abs(dx * c + dy * s) <= a && Math.abs(-dx * s + dy * c) <= b;
  };
}

/**
 * A star-shaped polygon of minVertices-8 vertices around (cx, cy) at 55-100% of radius r (80-100%
 * below 5 vertices, or at least minRadius of it when given).
 */
export function randomPolygon(rng: Rng, cx: number, cy: number, r: number, theta: number, minVertices = 3, minRadius?: number): { vx: number[]; vy: number[] } {
  const n = rng.int(minVertices, 8);
  const step = (2 * Math.PI) / n;
  const vx: number[] = [];
  const vy: number[] = [];
  for (let i = 0; i < n; i++) {
    const a = theta + i * step + rng.uniform(-0.3, 0.3) * step;
    const rad = r * rng.uniform(minRadius ?? (n <= 4 ? 0.8 : 0.55), 1);
    vx.push(cx + rad * Math.cos(a));
    vy.push(cy + rad * Math.sin(a));
  }
  return { vx, vy };
}
