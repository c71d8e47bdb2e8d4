// The configuration tree's accessors never follow or write a prototype.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { getAt, setAt } from '../../shared/config/tree.js';

describe('config tree', () => {
  it('setAt refuses forbidden keys and writes own properties only', () => {
    const tree: Record<string, unknown> = {};
    assert.equal(setAt(tree, ['__proto__', 'polluted'], 1), false);
    assert.equal(setAt(tree, ['a', 'constructor'], 1), false);
    assert.equal(setAt(tree, ['prototype'], 1), false);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.deepEqual(tree, {});
    assert.equal(setAt(tree, ['train', 'epochs'], 3), true);
    assert.deepEqual(tree, { train: { epochs: 3 } });
  });

  it('setAt does not descend into inherited properties', () => {
    const tree: Record<string, unknown> = {};
    assert.equal(setAt(tree, ['toString', 'x'], 1), true);
    assert.equal(typeof Object.prototype.toString, 'function');
    assert.deepEqual(Object.keys(tree), ['toString']);
  });

  it('getAt sees own properties only', () => {
    assert.equal(getAt({}, ['toString']), undefined);
    assert.equal(getAt({ a: [1, { b: 2 }] }, ['a', 1, 'b']), 2);
  });
});
