import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PredictInputError, checkPrompt } from '../../../tools/evaluation/predict.js';

describe('predict prompt checks', () => {
  const bad = (f: () => void, re: RegExp): void => assert.throws(f, (e: Error) => e instanceof PredictInputError && re.test(e.message));

  it('accepts boxes and points inside 0..W x 0..H', () => {
    checkPrompt([0, 0, 100, 50], [], 100, 50);
    checkPrompt(undefined, [{ x: 100, y: 0, label: 0 }], 100, 50);
    checkPrompt([3, 3, 3, 3], [{ x: 1, y: 2, label: 1 }], 100, 50);
  });

  it('rejects a missing prompt, a box or point outside the image, an inverted box', () => {
    bad(() => checkPrompt(undefined, [], 100, 50), /no prompt/);
    bad(() => checkPrompt([10, 10, 120, 40], [], 100, 50), /box 10,10,120,40 lies outside the image: the image is 100 x 50 px/);
    bad(() => checkPrompt([-1, 0, 10, 10], [], 100, 50), /outside the image/);
    bad(() => checkPrompt([20, 10, 10, 40], [], 100, 50), /x0 <= x1/);
    bad(() => checkPrompt(undefined, [{ x: 5, y: 51, label: 1 }], 100, 50), /point 5,51 lies outside the image/);
    bad(() => checkPrompt(undefined, [{ x: 5, y: 5, label: 2 }], 100, 50), /label must be 1/);
  });
});
