import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DynamicLossScaler } from '../../../coordinator/optimizer/loss_scaler.js';

const grads = (...v: number[]): Map<string, Float32Array> => new Map([['w', Float32Array.from(v)]]);

describe('DynamicLossScaler', () => {
  it('unscales good steps and doubles the scale after growthInterval of them', () => {
    const s = new DynamicLossScaler({ initialScale: 8, growthInterval: 3 });
    for (let i = 0; i < 2; i++) {
      const r = s.update(grads(8, -16));
      assert.ok(r.apply);
      assert.deepEqual([...r.grads.get('w')!], [1, -2]);
      assert.equal(s.scale, 8);
    }
    s.update(grads(8, 8));
    assert.deepEqual(s.state, { scale: 16, goodSteps: 0, skipped: 0 });
  });

  it('skips an overflowing step, halves the scale, and recovers from an injected overflow', () => {
    const s = new DynamicLossScaler({ initialScale: 1024, growthInterval: 2 });
    s.update(grads(1024));
    assert.equal(s.state.goodSteps, 1);
    // Injected overflow: an Inf, then a NaN.
    assert.deepEqual(s.update(grads(1, Number.POSITIVE_INFINITY)), { apply: false, reason: 'overflow' });
    assert.deepEqual(s.state, { scale: 512, goodSteps: 0, skipped: 1 });
    assert.equal(s.update(grads(Number.NaN)).apply, false);
    assert.deepEqual(s.state, { scale: 256, goodSteps: 0, skipped: 2 });
    // Recovery: finite gradients apply again at the lower scale, and the scale grows back.
    const r = s.update(grads(256));
    assert.ok(r.apply && r.grads.get('w')![0] === 1);
    s.update(grads(256));
    assert.deepEqual(s.state, { scale: 512, goodSteps: 0, skipped: 2 });
  });

  it('never goes below minScale; state round-trips and is validated', () => {
    const s = new DynamicLossScaler({ initialScale: 2, minScale: 1 });
    s.update(grads(Number.NaN));
    s.update(grads(Number.NaN));
    assert.equal(s.scale, 1);
    const restored = new DynamicLossScaler({ minScale: 1 }, s.state);
    assert.deepEqual(restored.state, s.state);
    assert.throws(() => new DynamicLossScaler({}, { scale: Number.NaN, goodSteps: 0, skipped: 0 }), /invalid state/);
    assert.throws(() => new DynamicLossScaler({ backoffFactor: 2 }), /invalid options/);
  });
});
