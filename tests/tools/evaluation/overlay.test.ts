import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GT_CONTOUR, PRED_ALPHA, PRED_FILL, drawBox, drawPoint, maskContour, renderOverlay } from '../../../tools/evaluation/overlay.js';

/** A w x h mask with the rectangle [x0, x1) x [y0, y1) on. */
function rect(w: number, h: number, x0: number, y0: number, x1: number, y1: number): Uint8Array {
  const m = new Uint8Array(w * h);
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) m[y * w + x] = 1;
  return m;
}

const rows = (m: Uint8Array, w: number): string[] => Array.from({ length: m.length / w }, (_, y) => Array.from(m.subarray(y * w, (y + 1) * w)).join(''));

describe('overlay', () => {
  it('the contour is the mask pixels with a 4-neighbour outside the mask (or the image)', () => {
    const c = maskContour(rect(6, 5, 1, 1, 5, 4), 6, 5);
    assert.deepEqual(rows(c, 6), ['000000', '011110', '010010', '011110', '000000']);
    // Touching the border: the border pixels are contour too; a full image is all contour at its edge.
    assert.deepEqual(rows(maskContour(rect(3, 3, 0, 0, 3, 3), 3, 3), 3), ['111', '101', '111']);
    // A diagonal neighbour outside does not make a contour pixel.
    const plus = new Uint8Array([0, 1, 0, 1, 1, 1, 0, 1, 0]);
    assert.deepEqual(rows(maskContour(plus, 3, 3), 3), ['010', '101', '010']);
  });

  it('fills the prediction translucently and draws the ground-truth contour opaquely', () => {
    const w = 8;
    const h = 8;
    const image = { width: w, height: h, data: new Uint8Array(w * h * 3).fill(100) };
    const out = renderOverlay(image, { fill: rect(w, h, 0, 0, 4, 8), truth: [rect(w, h, 2, 2, 7, 7)] });
    assert.equal(out.width, w);
    assert.equal(out.data.length, image.data.length);
    assert.ok(image.data.every((v) => v === 100), 'the input is not modified');
    const px = (x: number, y: number): number[] => Array.from(out.data.subarray(3 * (y * w + x), 3 * (y * w + x) + 3));
    assert.deepEqual(px(0, 0), PRED_FILL.map((c) => Math.round((1 - PRED_ALPHA) * 100 + PRED_ALPHA * c)));
    assert.deepEqual(px(7, 0), [100, 100, 100]);
    assert.deepEqual(px(2, 2), [...GT_CONTOUR]);
    assert.deepEqual(px(6, 4), [...GT_CONTOUR]);
    assert.deepEqual(px(5, 4), [100, 100, 100], 'inside the ground truth, not on its contour, not predicted');
  });

  it('draws box and point prompts clipped to the image', () => {
    const image = { width: 10, height: 10, data: new Uint8Array(300) };
    drawBox(image, [2, 2, 12, 7]);
    drawPoint(image, 0, 9, 0);
    assert.notDeepEqual(Array.from(image.data.subarray(3 * (2 * 10 + 5), 3 * (2 * 10 + 5) + 3)), [0, 0, 0]);
    assert.notDeepEqual(Array.from(image.data.subarray(3 * (9 * 10 + 0), 3 * (9 * 10 + 0) + 3)), [0, 0, 0]);
  });
});
