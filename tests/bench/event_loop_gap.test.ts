// Smoke test of bench/event_loop_gap: it measures both ways of running a step and prints one JSON
// line with the target; whether the target is met is the benchmark's to report, not asserted here.

import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { runNodeScript } from '../helpers/run_script.js';

const SCRIPT = fileURLToPath(new URL('../../bench/event_loop_gap.js', import.meta.url));

describe('bench/event_loop_gap', () => {
  it('prints one JSON line: in-process and thread step, pauses, ticks and the target', async () => {
    const r = await runNodeScript(SCRIPT, []);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.equal(lines.length, 1, r.stdout);
    const v = JSON.parse(lines[0]!) as Record<string, unknown>;
    assert.equal(v.bench, 'event_loop_gap');
    for (const k of ['in_process', 'thread'] as const) {
      const m = v[k] as Record<string, unknown>;
      for (const f of ['step_ms', 'max_gap_ms', 'ticks']) assert.ok(Number.isInteger(m[f]) && (m[f] as number) >= 0, `${k}.${f} ${String(m[f])}`);
      assert.ok((m.max_gap_ms as number) <= (m.step_ms as number) + 1, `${k}: a pause within the step`);
    }
    assert.equal(v.target_thread_max_gap_ms, 200);
    assert.equal(typeof v.target_met, 'boolean');
  });
});
