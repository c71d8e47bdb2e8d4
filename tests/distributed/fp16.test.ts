// runtime.precision: fp16 over gRPC: the loss scale travels in StepAssignment.loss_scale, and a
// worker whose fp16 gradients overflow says so (StepResultHeader.overflow, no gradient data) instead
// of sending Infs, which the coordinator refuses from any peer as hostile: the step is skipped for
// every worker, the scale halved, and nobody is evicted.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, it } from 'node:test';
import { runDistributed } from '../../coordinator/distributed_run.js';
import { type RunEvent, RunEvents } from '../../coordinator/run_events.js';
import { writeDemoDataset } from '../../shared/data/demo_data.js';
import { runRemoteWorker } from '../../worker/grpc_worker.js';
import { tinyConfigYaml } from '../helpers/tiny_config.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'samlora-dist-fp16-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

it('2 remote fp16 workers: overflows from a too-large initial scale skip steps and halve the scale, no eviction, the run completes', { timeout: 180_000 }, async () => {
  const demo = path.join(tmp, 'demo');
  await writeDemoDataset(demo, { seed: 6, train: 12, test: 0, size: 64 });
  const config = path.join(tmp, 'config.yaml');
  // 2^24 overflows the tiny model's fp16 backward (tests/coordinator/loss_scaling.test.ts).
  writeFileSync(config, tinyConfigYaml({ train: path.join(demo, 'train'), test: null, epochs: 1, batchSize: 2, checkpointDir: tmp, extra: 'runtime:\n  precision: fp16\n  loss_scale: { initial: 16777216 }\n' }));
  const events = new RunEvents();
  const steps: Extract<RunEvent, { kind: 'step' }>[] = [];
  const rejected: string[] = [];
  events.on((e) => {
    if (e.kind === 'step') steps.push(e);
    if (e.kind === 'message_rejected') rejected.push(e.reason);
  });
  const stop = new AbortController();
  const joined: Promise<void>[] = [];
  try {
    const summary = await runDistributed({
      configPath: config,
      runDir: path.join(tmp, 'run'),
      listen: '127.0.0.1:0',
      minWorkers: 2,
      deadlineMs: 60_000,
      events,
      onListening: (address) => {
        for (let i = 0; i < 2; i++) joined.push(runRemoteWorker({ address, runtime: { intraOpThreads: 1 }, signal: stop.signal, maxAttempts: 3 }));
      },
    });
    assert.equal(summary.status, 'completed');
    assert.equal(summary.evictions, 0, `evicted: ${rejected.join('; ')}`);
    assert.deepEqual(rejected, []);
    assert.equal(steps.length, 6);
    const overflows = steps.filter((s) => s.overflow);
    assert.ok(overflows.length >= 1, 'some step overflowed at 2^24');
    assert.equal(summary.skipped_steps, overflows.length);
    steps.forEach((s, i) => {
      const before = i === 0 ? 2 ** 24 : steps[i - 1]!.lossScale!;
      assert.equal(s.lossScale, s.overflow ? before / 2 : before, `step ${s.step}`);
    });
    // Both workers answered every step (an overflow is an answer, not a failure).
    for (const s of steps) assert.equal(s.timing.workers.length, 2, `step ${s.step}`);
  } finally {
    stop.abort();
    await Promise.allSettled(joined);
  }
});
