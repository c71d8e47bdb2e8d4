import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeRle, encodeRle, rleArea, rleCountsFromString, rleCountsToString } from '../../../shared/data/formats/coco_rle.js';

describe('COCO RLE', () => {
  it('compressed strings, worked by hand from maskApi.c', () => {
    // Counts < 16 are one character each ('0' + count); from the 4th on, the difference to counts[i-2].
    assert.equal(rleCountsToString([1, 2, 1]), '121');
    assert.equal(rleCountsToString([0, 3, 1, 4]), '0311'); // 4 - 3 = 1
    assert.equal(rleCountsToString([0, 5, 1, 2]), '051M'); // 2 - 5 = -3: 5 bits 0b11101 = 29, sign bit set, '0' + 29 = 'M'
    assert.equal(rleCountsToString([100]), 'T3'); // 100 = 4 + 3 * 32: '0' + (4 | 0x20) = 'T', then '0' + 3
    assert.deepEqual(rleCountsFromString('121'), [1, 2, 1]);
    assert.deepEqual(rleCountsFromString('0311'), [0, 3, 1, 4]);
    assert.deepEqual(rleCountsFromString('051M'), [0, 5, 1, 2]);
    assert.deepEqual(rleCountsFromString('T3'), [100]);
    assert.throws(() => rleCountsFromString('T'), /ends inside a count/);
  });

  it('round-trips large and alternating counts', () => {
    const counts = [0, 1, 123456, 7, 3, 99999, 1, 0, 40000, 2];
    assert.deepEqual(rleCountsFromString(rleCountsToString(counts)), counts);
  });

  it('decodes column-major into a row-major mask', () => {
    // 3 rows x 2 columns; column-major pixels: (0,0) (1,0) (2,0) (0,1) (1,1) (2,1) with (row, col).
    // counts [1, 3, 2]: pixel 0 off, pixels 1..3 on = (1,0) (2,0) (0,1), pixels 4..5 off.
    const m = decodeRle([1, 3, 2], 3, 2);
    assert.deepEqual([...m.data], [0, 1, 1, 0, 1, 0]); // row 0: (0,0)=0 (0,1)=1; row 1: 1 0; row 2: 1 0
    assert.deepEqual(encodeRle(m), { size: [3, 2], counts: [1, 3, 2] });
    assert.deepEqual([...decodeRle([6], 3, 2).data], [0, 0, 0, 0, 0, 0]);
    assert.deepEqual([...decodeRle([0, 2], 3, 2).data], [1, 0, 1, 0, 0, 0]); // short counts: the rest is 0
    assert.throws(() => decodeRle([3, 4], 3, 2), /sum past/);
    const round = { width: 5, height: 4, data: Uint8Array.from({ length: 20 }, (_, i) => ((i * 7) % 3 === 0 ? 1 : 0)) };
    const enc = encodeRle(round);
    assert.deepEqual([...decodeRle(rleCountsFromString(rleCountsToString(enc.counts)), 4, 5).data], [...round.data]);
  });
});

describe('rleArea', () => {
  it('sums the 1-runs and validates like decodeRle', () => {
    assert.equal(rleArea([1, 3, 2], 3, 2), 3);
    assert.equal(rleArea([6], 3, 2), 0);
    assert.throws(() => rleArea([3, 4], 3, 2), /sum past/);
  });
});
