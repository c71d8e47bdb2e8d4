import assert from 'node:assert/strict';
import { test } from 'node:test';
import { allFinite, clipGradNorm } from '../../../coordinator/optimizer/grad_clip.js';

test('clips the global norm across tensors and reports the norm before clipping', () => {
  const grads = new Map([
    ['a', Float32Array.of(3, 0)],
    ['b', Float32Array.of(0, 4)],
  ]);
  assert.equal(clipGradNorm(grads, 1), 5);
  const norm = Math.hypot(...grads.get('a')!, ...grads.get('b')!);
  assert.ok(Math.abs(norm - 1) < 1e-5, `norm after clipping ${norm}`);
  assert.ok(Math.abs(grads.get('a')![0]! / grads.get('b')![1]! - 0.75) < 1e-6, 'direction kept');
});

test('leaves small gradients alone and detects non-finite values', () => {
  const grads = new Map([['a', Float32Array.of(0.1, 0.2)]]);
  clipGradNorm(grads, 10);
  assert.deepEqual([...grads.get('a')!], [Math.fround(0.1), Math.fround(0.2)]);
  assert.ok(allFinite(grads));
  grads.get('a')![1] = Number.NaN;
  assert.ok(!allFinite(grads));
});
