// Smoke test of bench/cli_latency: one JSON line per command, with its exit status (the commands
// must have done their job) and the target; meeting the target is the benchmark's to report.

import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { runNodeScript } from '../helpers/run_script.js';

const SCRIPT = fileURLToPath(new URL('../../bench/cli_latency.js', import.meta.url));

describe('bench/cli_latency', () => {
  it('times the quick commands and prints a JSON line for each', async () => {
    const r = await runNodeScript(SCRIPT, []);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(
      lines.map((l) => l.command),
      ['demo-data (default dataset)', 'worker --gpu 0 without the CUDA provider'],
    );
    for (const l of lines) {
      assert.equal(l.bench, 'cli_latency');
      if (l.skipped !== undefined) continue;
      assert.equal(l.exit, l.command === 'demo-data (default dataset)' ? 0 : 1, JSON.stringify(l));
      assert.ok(typeof l.wall_s === 'number' && l.wall_s > 0, JSON.stringify(l));
      assert.equal(typeof l.target_met, 'boolean');
    }
  });
});
