// ImageCache: least recently used entries are dropped first.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type EncodedImage, ImageCache } from '../../../tools/serve/image_cache.js';

const entry = (id: string): EncodedImage => ({ id, width: 1, height: 1, inputSize: [1, 1], embeddings: new Map() });

describe('ImageCache', () => {
  it('keeps the most recently used `capacity` entries', () => {
    const c = new ImageCache(2);
    c.set(entry('a'));
    c.set(entry('b'));
    assert.ok(c.get('a')); // a is now the most recent
    c.set(entry('c')); // drops b
    assert.equal(c.size, 2);
    assert.equal(c.get('b'), undefined);
    assert.ok(c.get('a') && c.get('c'));
    c.set(entry('c')); // replacing does not grow it
    assert.equal(c.size, 2);
  });

  it('refuses a capacity below 1', () => {
    assert.throws(() => new ImageCache(0), /positive integer/);
  });
});
