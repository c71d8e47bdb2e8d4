// collectGarbage: works without --expose-gc (the test runner passes none) and frees an unreferenced array.

import assert from 'node:assert/strict';
import { it } from 'node:test';
import { collectGarbage } from '../../worker/collect_garbage.js';

it('collects an array nothing references any more', async () => {
  let array: Float32Array | null = new Float32Array(1 << 20);
  const ref = new WeakRef(array);
  array = null;
  // A WeakRef's target lives at least to the end of the job that made it.
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(typeof (globalThis as { gc?: unknown }).gc, 'undefined', 'this test proves nothing under --expose-gc');
  collectGarbage();
  assert.equal(ref.deref(), undefined);
});
