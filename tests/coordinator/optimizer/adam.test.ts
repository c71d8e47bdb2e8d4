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

test('a huge finite gradient that would overflow the second moment is refused: nothing is written', () => {
  const adam = new Adam({ lr: 0.01 });
  const params = new Map([
    ['lora.a', Float32Array.of(1, 2)],
    ['lora.b', Float32Array.of(3)],
  ]);
  assert.deepEqual(adam.step(params, new Map([['lora.a', Float32Array.of(0.5, -0.5)], ['lora.b', Float32Array.of(1)]])), { applied: true });
  const before = { p: [...params].map(([k, v]) => [k, [...v]]), m: [...adam.state.m].map(([k, v]) => [k, [...v]]), v: [...adam.state.v].map(([k, v]) => [k, [...v]]) };
  // 3e38 is finite in float32, its square is not: v would become +Inf and every later update 0.
  const outcome = adam.step(params, new Map([['lora.a', Float32Array.of(0.1, 0.1)], ['lora.b', Float32Array.of(3e38)]]));
  assert.deepEqual(outcome, { applied: false, tensor: 'lora.b' });
  assert.equal(adam.state.step, 1, 'a refused step is not counted');
  assert.deepEqual([...params].map(([k, v]) => [k, [...v]]), before.p, 'no parameter was written, not even the tensors before the bad one');
  assert.deepEqual([...adam.state.m].map(([k, v]) => [k, [...v]]), before.m);
  assert.deepEqual([...adam.state.v].map(([k, v]) => [k, [...v]]), before.v);
  for (const t of [...adam.state.m.values(), ...adam.state.v.values(), ...params.values()]) assert.ok(t.every(Number.isFinite));
  // Training goes on from the same state.
  assert.deepEqual(adam.step(params, new Map([['lora.a', Float32Array.of(0.1, 0.1)], ['lora.b', Float32Array.of(1)]])), { applied: true });
  assert.equal(adam.state.step, 2);
});

test('a refused first step leaves no state behind', () => {
  const adam = new Adam();
  const params = new Map([['w', Float32Array.of(1)]]);
  assert.deepEqual(adam.step(params, new Map([['w', Float32Array.of(-3.4e38)]])), { applied: false, tensor: 'w' });
  assert.equal(adam.state.m.size, 0);
  assert.equal(params.get('w')![0], 1);
});
