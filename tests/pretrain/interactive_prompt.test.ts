import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { errorPoint, firstPrompt, isAmbiguous, tokenCount, writeTokens } from '../../pretrain/interactive_prompt.js';
import type { BinaryMask } from '../../shared/data/types.js';
import { Rng } from '../../shared/random/rng.js';
import { LABEL_SLOTS } from '../../shared/sam/prompt_encoder.js';

/** A 16 x 16 mask with the square [4, 11] x [4, 11] set. */
function square(): BinaryMask {
  const data = new Uint8Array(256);
  for (let y = 4; y < 12; y++) for (let x = 4; x < 12; x++) data[y * 16 + x] = 1;
  return { width: 16, height: 16, data };
}

describe('interactive prompts', () => {
  it('first prompts are boxes around the object or one point on it, about half each', () => {
    const rng = new Rng(1);
    let boxes = 0;
    for (let i = 0; i < 200; i++) {
      const p = firstPrompt(square(), rng);
      if (p.box) {
        boxes++;
        assert.ok(p.box[0] <= 4 && p.box[1] <= 4 && p.box[2] >= 11 && p.box[3] >= 11 && p.box[0] >= 3 && p.box[2] <= 12, `box ${p.box}`);
        assert.equal(isAmbiguous(p), false);
      } else {
        const [x, y] = p.points[0]!;
        assert.ok(x >= 4 && x < 12 && y >= 4 && y < 12);
        assert.deepEqual(p.labels, [1]);
        assert.equal(isAmbiguous(p), true);
      }
    }
    assert.ok(boxes > 70 && boxes < 130, `${boxes} boxes`);
  });

  it('error points are positive on missed object pixels and negative on covered background', () => {
    const mask = square();
    const low = 4; // each low-res pixel covers 4 x 4 mask pixels
    const rng = new Rng(2);
    const missAll = new Float32Array(16).fill(-1);
    for (let i = 0; i < 20; i++) {
      const e = errorPoint(mask, missAll, low, rng)!;
      assert.equal(e.label, 1);
      assert.equal(mask.data[e.point[1] * 16 + e.point[0]], 1);
    }
    const coverAll = new Float32Array(16).fill(1);
    for (let i = 0; i < 20; i++) {
      const e = errorPoint(mask, coverAll, low, rng)!;
      assert.equal(e.label, 0);
      assert.equal(mask.data[e.point[1] * 16 + e.point[0]], 0);
    }
    const exact = new Float32Array(16).fill(-1);
    for (const i of [5, 6, 9, 10]) exact[i] = 1;
    assert.equal(errorPoint(mask, exact, low, rng), null);
  });

  it('writes points, then box corners, then padding, in a fixed number of slots', () => {
    const coords = new Float32Array(2 * 2 * 4);
    const labels = new Float32Array(2 * 4 * LABEL_SLOTS);
    const box = { box: [1, 2, 9, 10] as [number, number, number, number], points: [[5, 6] as [number, number]], labels: [0] };
    const pts = { box: null, points: [[3, 4] as [number, number]], labels: [1] };
    assert.equal(tokenCount(box), 3);
    assert.equal(tokenCount(pts), 2);
    writeTokens(box, 4, coords, labels, 0);
    writeTokens(pts, 4, coords, labels, 4);
    const label = (t: number): number => labels.subarray(t * LABEL_SLOTS, (t + 1) * LABEL_SLOTS).indexOf(1) - 1;
    assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 7].map(label), [0, 2, 3, -1, 1, -1, -1, -1]);
    assert.deepEqual([...coords.subarray(0, 8)], [5, 6, 1, 2, 9, 10, 0, 0]);
    assert.deepEqual([...coords.subarray(8, 10)], [3, 4]);
    assert.throws(() => writeTokens(box, 2, coords, labels, 0), /needs 3 tokens/);
  });
});
