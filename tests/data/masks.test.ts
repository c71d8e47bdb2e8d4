import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DataError } from '../../shared/data/errors.js';
import { binarize, checkMaskSize, countOn, labelsOf, splitLabels } from '../../shared/data/masks.js';

describe('masks', () => {
  it('binarize: values >= 128 are object', () => {
    const m = binarize({ width: 4, height: 1, data: new Uint8Array([0, 127, 128, 255]) });
    assert.deepEqual([...m.data], [0, 0, 1, 1]);
    assert.equal(countOn(m), 2);
  });

  it('splitLabels: one mask per non-zero label, ascending, labelled', () => {
    const labels = { width: 3, height: 2, data: new Uint32Array([0, 7, 7, 300, 0, 2]) };
    assert.deepEqual(labelsOf(labels), [2, 7, 300]);
    const objs = splitLabels(labels);
    assert.deepEqual(
      objs.map((o) => [o.label, [...o.data]]),
      [
        [2, [0, 0, 0, 0, 0, 1]],
        [7, [0, 1, 1, 0, 0, 0]],
        [300, [0, 0, 0, 1, 0, 0]],
      ],
    );
    assert.deepEqual(splitLabels({ width: 1, height: 1, data: new Uint32Array([0]) }), []);
  });

  it('checkMaskSize: names the mask, hints at EXIF orientation when the mask has the stored size', () => {
    checkMaskSize('m.png', { width: 4, height: 3 }, { width: 4, height: 3 });
    assert.throws(
      () => checkMaskSize('m.png', { width: 4, height: 3 }, { width: 3, height: 4, storedWidth: 4, storedHeight: 3, orientation: 6 }),
      (e: unknown) => e instanceof DataError && e.code === 'size_mismatch' && e.file === 'm.png' && /4x3 but its image is 3x4.*EXIF orientation 6/.test(e.message),
    );
  });
});
