import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hostTensor, numel } from '../../shared/tensor/host_tensor.js';

describe('host tensors', () => {
  it('counts elements', () => {
    assert.equal(numel([]), 1);
    assert.equal(numel([2, 3, 4]), 24);
    assert.equal(numel([5, 0]), 0);
    assert.throws(() => numel([2, -1]), /not a non-negative integer/);
    assert.throws(() => numel([1.5]), /not a non-negative integer/);
  });

  it('builds zero-filled or checked tensors', () => {
    const z = hostTensor([2, 2]);
    assert.deepEqual(z.shape, [2, 2]);
    assert.deepEqual([...z.data], [0, 0, 0, 0]);
    const data = Float32Array.from([1, 2, 3]);
    assert.equal(hostTensor([3], data).data, data); // no copy
    assert.deepEqual([...hostTensor([1, 2], [5, 6]).data], [5, 6]);
    assert.throws(() => hostTensor([2, 2], [1, 2, 3]), /3 elements but shape \[2, 2\] needs 4/);
  });

  it('does not share the caller\'s shape array', () => {
    const shape = [4];
    const t = hostTensor(shape);
    shape[0] = 9;
    assert.deepEqual(t.shape, [4]);
  });
});
