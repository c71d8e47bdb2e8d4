import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { polygonRleCounts, rasterizePolygon, rasterizePolygons } from '../../../shared/data/formats/polygon.js';

const rows = (m: { width: number; height: number; data: Uint8Array }) =>
  Array.from({ length: m.height }, (_, y) => [...m.data.subarray(y * m.width, (y + 1) * m.width)].join(''));

describe('polygon rasterisation (pycocotools rleFrPoly)', () => {
  it('the square (1,1)-(6,6) covers exactly the 5x5 pixels 1..5', () => {
    const m = rasterizePolygon([1, 1, 6, 1, 6, 6, 1, 6], 8, 8);
    assert.deepEqual(rows(m), ['00000000', '01111100', '01111100', '01111100', '01111100', '01111100', '00000000', '00000000']);
    // The same as pycocotools' RLE of that square: 9 off (column 0 and row 0 of column 1), then 5 on / 3 off per column.
    assert.deepEqual(polygonRleCounts([1, 1, 6, 1, 6, 6, 1, 6], 8, 8), [9, 5, 3, 5, 3, 5, 3, 5, 3, 5, 18]);
    // Winding direction does not matter.
    assert.deepEqual(rows(rasterizePolygon([1, 1, 1, 6, 6, 6, 6, 1], 8, 8)), rows(m));
  });

  it('samples pixel centres: a triangle', () => {
    // Inside x + y < 5 (centres x + 0.5, y + 0.5 strictly inside the hypotenuse), x, y > 0.5.
    const m = rasterizePolygon([0.5, 0.5, 4.5, 0.5, 0.5, 4.5], 6, 6);
    assert.deepEqual(rows(m), ['000000', '011100', '011000', '010000', '000000', '000000']);
  });

  it('clips to the image and unions several polygons', () => {
    const clipped = rasterizePolygon([-2, -2, 3, -2, 3, 3, -2, 3], 4, 4);
    assert.deepEqual(rows(clipped), ['1110', '1110', '1110', '0000']);
    const two = rasterizePolygons(
      [
        [0, 0, 2, 0, 2, 2, 0, 2],
        [1, 1, 3, 1, 3, 3, 1, 3],
        [0, 0, 1, 1], // fewer than 3 points: ignored
      ],
      4,
      4,
      5,
    );
    assert.equal(two.label, 5);
    assert.deepEqual(rows(two), ['1100', '1110', '0110', '0000']);
  });

  it('even-odd within one polygon: a loop traced twice cancels', () => {
    const twice = rasterizePolygon([1, 1, 4, 1, 4, 4, 1, 4, 1, 1, 4, 1, 4, 4, 1, 4], 5, 5);
    assert.equal([...twice.data].reduce((a, b) => a + b, 0), 0);
  });
});
