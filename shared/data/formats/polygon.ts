// Polygon rasterisation, a line-for-line port of pycocotools' rleFrPoly (maskApi.c), so polygons give
// the same pixels as pycocotools' frPyObjects + decode (the masks the reference trains on).
//
// The rule, in words: pixel (x, y) covers [x, x+1) x [y, y+1) in polygon coordinates and is inside when
// its CENTRE (x + 0.5, y + 0.5) is inside the polygon by the EVEN-ODD rule (the boundary is toggled per
// column at every edge crossing, so self-intersections and overlapping loops cancel). Vertices are
// first snapped to a 1/5-pixel grid (round(5 * v), as pycocotools does), and the crossing row in each
// column is rounded with pycocotools' own tie-breaking, so centres lying exactly on an edge follow it
// too. Example: the square (1,1) (6,1) (6,6) (1,6) covers exactly the 5x5 pixels x, y in 1..5.
// Several polygons of one annotation are unioned (pycocotools' merge), not even-odd combined.

import type { BinaryMask } from '../masks.js';
import { decodeRle } from './coco_rle.js';

/** C's (int)(v + .5) for the values rleFrPoly casts: truncation toward zero. */
const cint = (v: number) => Math.trunc(v);

/** RLE counts (column-major) of one polygon [x0, y0, x1, y1, ...] on an h x w grid: rleFrPoly. */
export function polygonRleCounts(xy: ArrayLike<number>, h: number, w: number): number[] {
  const k = Math.floor(xy.length / 2);
  const scale = 5;
  const x = new Int32Array(k + 1);
  const y = new Int32Array(k + 1);
  for (let j = 0; j < k; j++) x[j] = cint(scale * xy[j * 2]! + 0.5);
  x[k] = x[0]!;
  for (let j = 0; j < k; j++) y[j] = cint(scale * xy[j * 2 + 1]! + 0.5);
  y[k] = y[0]!;
  // Upsample: dense integer points along every edge (Bresenham-like, in the 5x grid).
  const u: number[] = [];
  const v: number[] = [];
  for (let j = 0; j < k; j++) {
    let xs = x[j]!;
    let xe = x[j + 1]!;
    let ys = y[j]!;
    let ye = y[j + 1]!;
    const dx = Math.abs(xe - xs);
    const dy = Math.abs(ys - ye);
    const flip = (dx >= dy && xs > xe) || (dx < dy && ys > ye);
    if (flip) {
      let t = xs;
      xs = xe;
      xe = t;
      t = ys;
      ys = ye;
      ye = t;
    }
    const s = dx >= dy ? (ye - ys) / dx : (xe - xs) / dy;
    if (dx >= dy) {
      for (let d = 0; d <= dx; d++) {
        const t = flip ? dx - d : d;
        u.push(t + xs);
        v.push(cint(ys + s * t + 0.5));
      }
    } else {
      for (let d = 0; d <= dy; d++) {
        const t = flip ? dy - d : d;
        v.push(t + ys);
        u.push(cint(xs + s * t + 0.5));
      }
    }
  }
  // Points where the boundary crosses a pixel-centre column, downsampled to the pixel grid.
  const bx: number[] = [];
  const by: number[] = [];
  for (let j = 1; j < u.length; j++) {
    if (u[j] === u[j - 1]) continue;
    let xd = u[j]! < u[j - 1]! ? u[j]! : u[j]! - 1;
    xd = (xd + 0.5) / scale - 0.5;
    if (Math.floor(xd) !== xd || xd < 0 || xd > w - 1) continue;
    let yd = v[j]! < v[j - 1]! ? v[j]! : v[j - 1]!;
    yd = (yd + 0.5) / scale - 0.5;
    if (yd < 0) yd = 0;
    else if (yd > h) yd = h;
    yd = Math.ceil(yd);
    bx.push(xd);
    by.push(yd);
  }
  // Sorted column-major boundary positions -> run lengths (equal positions cancel: even-odd).
  const a: number[] = bx.map((xi, j) => xi * h + by[j]!);
  a.push(h * w);
  a.sort((p, q) => p - q);
  let prev = 0;
  for (let j = 0; j < a.length; j++) {
    const t = a[j]!;
    a[j] = t - prev;
    prev = t;
  }
  const b: number[] = [];
  let j = 0;
  b.push(a[j++]!);
  while (j < a.length) {
    if (a[j]! > 0) b.push(a[j++]!);
    else {
      j++;
      if (j < a.length) b[b.length - 1]! += a[j++]!;
    }
  }
  return b;
}

/** Rasterises one polygon to a row-major binary mask of h x w (pycocotools' rule, see above). */
export function rasterizePolygon(xy: ArrayLike<number>, h: number, w: number): BinaryMask {
  return decodeRle(polygonRleCounts(xy, h, w), h, w);
}

/** Rasterises and unions several polygons (one COCO annotation) into one mask. */
export function rasterizePolygons(polygons: readonly ArrayLike<number>[], h: number, w: number, label?: number): BinaryMask {
  const data = new Uint8Array(h * w);
  for (const poly of polygons) {
    if (poly.length < 6) continue; // fewer than 3 points: no area
    const m = rasterizePolygon(poly, h, w);
    for (let i = 0; i < data.length; i++) data[i]! |= m.data[i]!;
  }
  return label === undefined ? { width: w, height: h, data } : { width: w, height: h, data, label };
}
