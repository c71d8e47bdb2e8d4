// The plain-socket floor of bench/comm_overhead.ts: a round only ends once every peer process has
// sent back all its bytes (a short answer would never end it: the test's timeout), and a payload
// that is not float32 is refused.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { socketFloorSeconds } from '../../bench/socket_floor.js';

describe('bench/socket_floor', () => {
  it('times rounds of real traffic between peer processes', { timeout: 60_000 }, async () => {
    for (const bytes of [4, 32 * 1024 * 1024]) {
      const s = await socketFloorSeconds(2, bytes, 2);
      assert.ok(s > 0 && Number.isFinite(s), `${bytes} bytes: ${s} s`);
    }
  });

  it('refuses a payload that is not whole float32 elements', async () => {
    await assert.rejects(socketFloorSeconds(1, 6, 1), /not a whole number of float32/);
  });
});
