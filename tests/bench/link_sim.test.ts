// Smoke test of the link simulation's command on a tiny cluster (2 hosts x 2 GPUs, rank-4 LoRA
// without the decoder, a 20 ms step): one line with host groups and one without, the coordinator's
// bytes per step following its endpoints (2 partial sums; 4 gradients, extrapolated from the one
// measured direct level), and the dilated run's links' part present.

import assert from 'node:assert/strict';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runNodeScript } from '../helpers/run_script.js';

const SCRIPT = fileURLToPath(new URL('../../bench/link_sim.js', import.meta.url));

it('simulates 2x2 GPUs with and without host groups and prints one JSON line each', { timeout: 60_000 }, async () => {
  const r = await runNodeScript(SCRIPT, ['--only', 'scale', '--decoder-params', '0', '--clusters', '2x2', '--max-direct-endpoints', '2', '--scale-steps', '1', '--step-ms', '20', '--dilation', '4']);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(lines.map((l) => l.grouped), [true, false]);
  const gradientBytes = 12 * 2 * 2 * 4 * 768 * 4;
  const [grouped, direct] = lines as [Record<string, unknown>, Record<string, unknown>];
  assert.equal(grouped.coordinator_bytes_in_per_step, 2 * gradientBytes, 'one partial sum per host');
  assert.equal(grouped.coordinator_bytes_out_per_step, 2 * gradientBytes);
  assert.match(String(grouped.method), /^measured/);
  assert.ok(typeof (grouped.coordinator_level_dilated as Record<string, unknown>).links_part_s === 'number', 'the dilated run measured the links');
  assert.equal(direct.coordinator_bytes_in_per_step, 4 * gradientBytes, 'one gradient per GPU');
  assert.match(String(direct.method), /^extrapolated/);
  assert.ok(Number(grouped.overhead_ratio) > 0 && Number(direct.overhead_ratio) > 0);
});
