import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { maskBounds } from '../../shared/data/prompts.js';
import { SOURCE_KINDS, generateSourceSample } from '../../shared/data/source_domain.js';

describe('source domain', () => {
  it('is deterministic per (seed, split, index), cycles the kinds, and has solid objects inside the image', () => {
    const a = generateSourceSample(2, 'train', 5, 64);
    const b = generateSourceSample(2, 'train', 5, 64);
    assert.deepEqual(a.image.data, b.image.data);
    assert.deepEqual(a.mask.data, b.mask.data);
    assert.notDeepEqual(generateSourceSample(2, 'test', 5, 64).image.data, a.image.data);
    for (let i = 0; i < 30; i++) {
      const s = generateSourceSample(1, 'train', i, 64);
      assert.equal(s.kind, SOURCE_KINDS[i % 3]);
      const box = maskBounds(s.mask);
      assert.ok(box, `${s.name} has pixels`);
      // No holes: the pixel at the centre of an ellipse or rectangle is the object's.
      if (s.kind !== 'polygon') {
        const cx = Math.round((box[0] + box[2]) / 2);
        const cy = Math.round((box[1] + box[3]) / 2);
        assert.equal(s.mask.data[cy * 64 + cx], 1, `${s.name}: hole at the centre`);
      }
    }
  });
});
