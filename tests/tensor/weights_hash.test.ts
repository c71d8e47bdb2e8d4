import assert from 'node:assert/strict';
import { test } from 'node:test';
import { versionHash, weightsHash } from '../../shared/tensor/weights_hash.js';

test('the weights hash depends on names, values and order-independent of insertion', () => {
  const a = new Map([['x', Float32Array.of(1, 2)], ['y', Float32Array.of(3)]]);
  const b = new Map([['y', Float32Array.of(3)], ['x', Float32Array.of(1, 2)]]);
  assert.equal(weightsHash(a), weightsHash(b));
  assert.notEqual(weightsHash(a), weightsHash(new Map([['x', Float32Array.of(1, 2)], ['z', Float32Array.of(3)]])));
  assert.notEqual(weightsHash(a), weightsHash(new Map([['x', Float32Array.of(1, 2.5)], ['y', Float32Array.of(3)]])));
});

test('a version is hashed once: the same version answers from the cache, a new version rehashes', () => {
  const params = new Map([['x', Float32Array.of(1, 2)]]);
  const h0 = versionHash(params, 0);
  assert.equal(h0, weightsHash(params));
  params.get('x')![0] = 5;
  // Same version: the caller promised the values did not change, so the first hash stands.
  assert.equal(versionHash(params, 0), h0);
  const h1 = versionHash(params, 1);
  assert.equal(h1, weightsHash(params));
  assert.notEqual(h1, h0);
  // Another map with the same version number has its own entry.
  const other = new Map([['x', Float32Array.of(7, 7)]]);
  assert.equal(versionHash(other, 1), weightsHash(other));
});
