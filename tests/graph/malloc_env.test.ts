import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MALLOC_MMAP_THRESHOLD_BYTES, MALLOC_MMAP_THRESHOLD_VAR, withTrainingMallocEnv } from '../../shared/graph/malloc_env.js';

test('withTrainingMallocEnv adds a fixed mmap threshold and keeps the rest of the environment', () => {
  const env = withTrainingMallocEnv({ PATH: '/bin', TOKEN: 'x' });
  assert.equal(env[MALLOC_MMAP_THRESHOLD_VAR], String(MALLOC_MMAP_THRESHOLD_BYTES));
  assert.equal(env.PATH, '/bin');
  assert.equal(env.TOKEN, 'x');
});

test("withTrainingMallocEnv leaves an operator's own threshold alone", () => {
  const env = withTrainingMallocEnv({ [MALLOC_MMAP_THRESHOLD_VAR]: '65536' });
  assert.equal(env[MALLOC_MMAP_THRESHOLD_VAR], '65536');
});
