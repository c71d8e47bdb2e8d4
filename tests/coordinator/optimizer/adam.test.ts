import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Adam } from '../../../coordinator/optimizer/adam.js';

/** torch.optim.Adam / AdamW arithmetic, in float64, for one scalar parameter. */
function reference(p0: number, grads: number[], lr: number, wd: number, decoupled: boolean): number {
  let p = p0;
  let m = 0;
  let v = 0;
  grads.forEach((g0, i) => {
    const t = i + 1;
    let g = g0;
    if (wd) {
      if (decoupled) p *= 1 - lr * wd;
      else g += wd * p;
    }
    m = 0.9 * m + 0.1 * g;
    v = 0.999 * v + 0.001 * g * g;
    p -= (lr * (m / (1 - 0.9 ** t))) / (Math.sqrt(v / (1 - 0.999 ** t)) + 1e-8);
  });
  return p;
}

for (const [name, decoupled] of [
  ['Adam with L2 weight decay', false],
  ['AdamW with decoupled weight decay', true],
] as const) {
  test(`${name} follows torch.optim arithmetic`, () => {
    const grads = [0.5, -0.25, 1.5, 0.125];
    const adam = new Adam({ lr: 0.01, weightDecay: 0.1, decoupled });
    const params = new Map([['w', Float32Array.of(2)]]);
    for (const g of grads) adam.step(params, new Map([['w', Float32Array.of(g)]]));
    const want = reference(2, grads, 0.01, 0.1, decoupled);
    assert.ok(Math.abs(params.get('w')![0]! - want) < 1e-6, `${params.get('w')![0]} vs ${want}`);
    assert.equal(adam.state.step, 4);
  });
}

test('a missing or mis-sized gradient is an error naming the tensor', () => {
  const adam = new Adam();
  const params = new Map([['lora.a', new Float32Array(3)]]);
  assert.throws(() => adam.step(params, new Map()), /no gradient for lora\.a/);
  assert.throws(() => adam.step(params, new Map([['lora.a', new Float32Array(2)]])), /lora\.a has 2 values, parameter has 3/);
});
