// Smoke test of the communication benchmark: a coordinator and real stand-in worker processes for
// one small configuration, direct and through an aggregator, and its JSON lines (so `npm run bench` keeps working; no timing asserted).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runNodeScript } from '../helpers/run_script.js';

const SCRIPT = fileURLToPath(new URL('../../bench/comm_overhead.js', import.meta.url));

describe('bench/comm_overhead', () => {
  it('measures 1 and 2 worker processes (2 also as one host group) at rank 4 and prints one JSON line each', { timeout: 60_000 }, async () => {
    const r = await runNodeScript(SCRIPT, ['--workers', '1,2', '--groups', '1,2', '--ranks', '4', '--steps', '1', '--delay-ms', '20']);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, number | string>);
    assert.deepEqual(
      lines.map((l) => [l.workers, l.groups]),
      [
        [1, 1],
        [2, 1],
        [2, 2],
      ],
    );
    for (const l of lines) {
      assert.equal(l.bench, 'comm_overhead');
      assert.match(String(l.compute), /simulated/);
      // ViT-B q/v LoRA at rank 4: 12 blocks x 2 targets x (4x768 + 768x4) elements, fp32, both ways.
      assert.equal(l.lora_elements, 12 * 2 * 2 * 4 * 768);
      assert.equal(l.bytes_per_step, 2 * Number(l.groups) * Number(l.lora_elements) * 4);
      // Counted by the coordinator's server: one gradient sum in and one weights version out per group
      // (2 workers in 1 group go through an aggregator process).
      assert.equal(l.coordinator_bytes_in_per_step, Number(l.groups) * Number(l.lora_elements) * 4);
      assert.equal(l.coordinator_bytes_out_per_step, Number(l.groups) * Number(l.lora_elements) * 4);
      assert.ok(Number(l.median_step_s) >= 0.02, 'a step takes at least the simulated compute');
      // The plain-socket floor was measured for the same traffic (its peers moved real bytes).
      assert.ok(Number(l.socket_floor_s) > 0, 'socket floor measured');
    }
  });
});
