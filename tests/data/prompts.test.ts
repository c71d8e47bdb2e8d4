import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { boxFromMask, maskBounds, promptFromMask, promptTokenCount, samplePoints } from '../../shared/data/prompts.js';
import type { BinaryMask } from '../../shared/data/types.js';
import { LABEL_SLOTS } from '../../shared/sam/prompt_encoder.js';
import { Rng } from '../helpers/rng.js';

/** A W x H mask with an annulus (hole included) centred at (cx, cy). */
function ringMask(W: number, H: number, cx: number, cy: number, r0: number, r1: number): BinaryMask {
  const data = new Uint8Array(W * H);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const d = Math.hypot(x + 0.5 - cx, y + 0.5 - cy);
      data[y * W + x] = d <= r1 && d >= r0 ? 1 : 0;
    }
  }
  return { width: W, height: H, data };
}

function tightBox(m: BinaryMask): [number, number, number, number] {
  let x0 = Infinity;
  let y0 = Infinity;
  let x1 = -Infinity;
  let y1 = -Infinity;
  for (let y = 0; y < m.height; y++) {
    for (let x = 0; x < m.width; x++) {
      if (m.data[y * m.width + x]) {
        x0 = Math.min(x0, x);
        y0 = Math.min(y0, y);
        x1 = Math.max(x1, x);
        y1 = Math.max(y1, y);
      }
    }
  }
  return [x0, y0, x1, y1];
}

/** The label of token i, from its one-hot row. */
const labelOf = (oneHot: Float32Array, i: number): number => [...oneHot.subarray(i * LABEL_SLOTS, (i + 1) * LABEL_SLOTS)].indexOf(1) - 1;

describe('prompts', () => {
  const ring = ringMask(100, 80, 40, 45, 12, 25);

  it('maskBounds is the tight box of the non-zero pixels; null for an empty mask', () => {
    assert.deepEqual(maskBounds(ring), tightBox(ring));
    assert.equal(maskBounds({ width: 3, height: 3, data: new Uint8Array(9) }), null);
    assert.deepEqual(maskBounds({ width: 4, height: 3, data: Uint8Array.from([0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0]) }), [2, 1, 2, 1]);
  });

  it('a box with jitter 0 is the tight box', () => {
    assert.deepEqual(boxFromMask(ring, new Rng(1), 0), tightBox(ring));
  });

  it('jittered boxes grow each side by 0 .. jitter - 1 (numpy randint) and stay within [0, W] x [0, H]', () => {
    const t = tightBox(ring);
    const rng = new Rng(2);
    const seen = [new Set<number>(), new Set<number>(), new Set<number>(), new Set<number>()];
    for (let i = 0; i < 400; i++) {
      const b = boxFromMask(ring, rng, 20);
      const grow = [t[0] - b[0], t[1] - b[1], b[2] - t[2], b[3] - t[3]];
      grow.forEach((g, s) => {
        assert.ok(g >= 0 && g <= 19, `side ${s} grew by ${g}`);
        seen[s]!.add(g);
      });
      assert.ok(b[0] >= 0 && b[1] >= 0 && b[2] <= 100 && b[3] <= 80, `box ${b} leaves the frame`);
    }
    assert.ok(seen.every((s) => s.size > 10), 'offsets should vary');
    // Near the frame's edge the box is clamped as the reference does: max(0, .), min(W, .).
    const corner = ringMask(50, 40, 6, 6, 0, 5);
    for (let i = 0; i < 50; i++) {
      const b = boxFromMask(corner, rng, 20);
      assert.ok(b[0] >= 0 && b[1] >= 0 && b[2] <= 50 && b[3] <= 40);
    }
    assert.deepEqual(boxFromMask({ width: 7, height: 5, data: new Uint8Array(35) }, rng, 20), [0, 0, 7, 5]);
  });

  it('positive points lie inside the mask, negative points outside it and near the object', () => {
    const rng = new Rng(3);
    for (let i = 0; i < 50; i++) {
      const { points, labels } = samplePoints(ring, rng, 3, 2, 10);
      assert.deepEqual(labels, [1, 1, 1, 0, 0]);
      points.forEach(([x, y], j) => {
        assert.ok(Number.isInteger(x) && Number.isInteger(y));
        assert.equal(ring.data[y * ring.width + x], labels[j] === 1 ? 1 : 0, `point ${j} (${x}, ${y})`);
      });
      for (const [x, y] of points.slice(3)) assert.ok(x >= 15 - 10 && x <= 64 + 10 && y >= 20 - 10 && y <= 69 + 10);
      assert.equal(new Set(points.slice(0, 3).map(([x, y]) => `${x},${y}`)).size, 3, 'positives are distinct');
    }
  });

  it('missing pixels become padding tokens, keeping the token count', () => {
    const full = { width: 4, height: 4, data: new Uint8Array(16).fill(1) };
    assert.deepEqual(samplePoints(full, new Rng(1), 1, 1).labels, [1, -1]);
    const empty = { width: 4, height: 4, data: new Uint8Array(16) };
    assert.deepEqual(samplePoints(empty, new Rng(1), 2, 1).labels, [-1, -1, 0]);
    const p = promptFromMask(empty, new Rng(1), { mode: 'points', points: 2, negativePoints: 1 });
    assert.equal(p.tokens.count, 4);
  });

  it('token counts: box 2, k points k + 1, mixed 2 (and only with one point)', () => {
    assert.equal(promptTokenCount({ mode: 'box' }), 2);
    assert.equal(promptTokenCount({ mode: 'points' }), 2);
    assert.equal(promptTokenCount({ mode: 'points', points: 3, negativePoints: 2 }), 6);
    assert.equal(promptTokenCount({ mode: 'mixed' }), 2);
    assert.throws(() => promptTokenCount({ mode: 'mixed', points: 2 }), /mixed/);
    assert.throws(() => promptTokenCount({ mode: 'points', points: 0 }), /at least one/);
  });

  it('promptFromMask builds SAM tokens: box corners labelled 2/3, points with a padding token', () => {
    const box = promptFromMask(ring, new Rng(4), { mode: 'box', jitter: 0 });
    assert.equal(box.kind, 'box');
    assert.deepEqual([...box.tokens.coords], tightBox(ring));
    assert.deepEqual([labelOf(box.tokens.labelsOneHot, 0), labelOf(box.tokens.labelsOneHot, 1)], [2, 3]);
    const pts = promptFromMask(ring, new Rng(4), { mode: 'points', points: 2, negativePoints: 1 });
    assert.equal(pts.tokens.count, 4);
    assert.deepEqual([0, 1, 2, 3].map((i) => labelOf(pts.tokens.labelsOneHot, i)), [1, 1, 0, -1]);
    assert.deepEqual([...pts.tokens.coords.subarray(6)], [0, 0]);
  });

  it('mixed mode draws both kinds, always with 2 tokens, deterministically from the rng', () => {
    const kinds = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const a = promptFromMask(ring, new Rng(100 + i), { mode: 'mixed' });
      const b = promptFromMask(ring, new Rng(100 + i), { mode: 'mixed' });
      assert.equal(a.tokens.count, 2);
      assert.deepEqual(a, b);
      kinds.add(a.kind);
      if (a.kind === 'points') assert.equal(ring.data[a.points![0]![1] * ring.width + a.points![0]![0]], 1);
    }
    assert.deepEqual([...kinds].sort(), ['box', 'points']);
    assert.equal(promptFromMask(ring, new Rng(1), { mode: 'mixed', boxProbability: 1 }).kind, 'box');
    assert.equal(promptFromMask(ring, new Rng(1), { mode: 'mixed', boxProbability: 0 }).kind, 'points');
  });
});
