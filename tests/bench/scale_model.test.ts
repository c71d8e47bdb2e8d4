// Smoke test of the scale model: its calibration line and one model line per (cluster, grouped),
// with the coordinator's bytes following the endpoints (GPUs without groups, hosts with them).

import assert from 'node:assert/strict';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runNodeScript } from '../helpers/run_script.js';

const SCRIPT = fileURLToPath(new URL('../../bench/scale_model.js', import.meta.url));

it('calibrates on the real code paths and models 2x4 GPUs with and without groups', { timeout: 60_000 }, async () => {
  const r = await runNodeScript(SCRIPT, ['--decoder-params', '0', '--reps', '1', '--clusters', '2x4']);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, number | string | boolean>);
  assert.deepEqual(lines.map((l) => l.kind), ['calibration', 'model', 'model']);
  const [cal, direct, grouped] = lines as [Record<string, number>, Record<string, number>, Record<string, number>];
  assert.equal(cal.elements, 12 * 2 * 2 * 4 * 768, 'ViT-B q/v LoRA at rank 4');
  for (const k of ['encodeWeights', 'encodeGradient', 'decode', 'foldPerResult', 'reducePerResult', 'adam']) assert.ok(cal[k]! > 0, `${k} was timed`);
  assert.equal(direct.coordinator_bytes_in_per_step, 8 * cal.bytes!);
  assert.equal(grouped.coordinator_bytes_in_per_step, 2 * cal.bytes!);
  assert.ok(grouped.coordinator_cpu_s! < direct.coordinator_cpu_s!);
  assert.equal(direct.overhead_ratio, direct.overhead_s! / 0.3);
});
