// Time a run spends waiting for workers (fewer live than min_workers) is a state of its own: reported
// as the step's waitingSeconds and kept out of its stepSeconds, so that rates, overhead and the ETA
// describe training only. A real tiny run on a pool that needs two in-process workers and starts with one.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { prepareRun, trainerFor } from '../../coordinator/prepare_run.js';
import { type RunEvent, RunEvents } from '../../coordinator/run_events.js';
import { WorkerPool } from '../../coordinator/worker_pool.js';
import { progressRecords } from '../../dashboard/progress_records.js';
import { runtimeOptions } from '../../shared/contract/runtime_options.js';
import { writeDemoDataset } from '../../shared/data/demo_data.js';
import { LocalWorker } from '../../worker/local_worker.js';
import { tinyConfigYaml } from '../helpers/tiny_config.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'samlora-waiting-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** How long the second worker keeps the run waiting. */
const JOIN_AFTER_MS = 600;

describe('waiting for workers', () => {
  it('is reported as waitingSeconds, kept out of stepSeconds, and printed as a record of its own', async () => {
    const demo = path.join(tmp, 'demo');
    await writeDemoDataset(demo, { seed: 1, train: 4, test: 0, size: 64 });
    const config = path.join(tmp, 'config.yaml');
    writeFileSync(config, tinyConfigYaml({ train: path.join(demo, 'train'), test: null, epochs: 1, batchSize: 4, checkpointDir: tmp }));
    const events = new RunEvents();
    const seen: RunEvent[] = [];
    const records: string[] = [];
    const at = new Map<string, number>();
    events.on((e) => {
      seen.push(e);
      at.set(e.kind, performance.now());
    });
    events.on(progressRecords((l) => records.push(l), { intervalMs: 0 }));
    const p = await prepareRun({ configPath: config, runDir: path.join(tmp, 'run'), events });
    const worker = (id: string): LocalWorker => new LocalWorker({ id, config: p.config, model: p.model, datasets: { train: p.train }, runtime: runtimeOptions(p.config) });
    const pool = WorkerPool.forwarding(2, events);
    pool.add(worker('local-0'));
    let joined: Promise<void> | undefined;
    events.on((e) => {
      // The second worker joins a while after the run starts waiting for it.
      if (e.kind === 'waiting_for_workers' && !joined) joined = new Promise((resolve) => setTimeout(() => resolve(pool.add(worker('local-1'))), JOIN_AFTER_MS));
    });
    try {
      const summary = await trainerFor(p, pool, { events }).run();
      assert.equal(summary.status, 'completed');
    } finally {
      await pool.closeAll();
    }
    const steps = seen.filter((e): e is Extract<RunEvent, { kind: 'step' }> => e.kind === 'step');
    assert.equal(steps.length, 1);
    const t = steps[0]!.timing;
    assert.ok(t.waitingSeconds !== undefined && t.waitingSeconds >= (JOIN_AFTER_MS - 50) / 1000, `waited ${t.waitingSeconds} s`);
    // The step's wall time (seen from here) holds the wait; its stepSeconds does not.
    const wall = (at.get('step')! - at.get('run_started')!) / 1000;
    assert.ok(t.stepSeconds >= 0 && t.stepSeconds <= wall - t.waitingSeconds + 0.05, `stepSeconds ${t.stepSeconds} of ${wall} s, ${t.waitingSeconds} s waiting`);
    assert.match(records[0]!, /^waiting for workers: 1 connected, 2 needed at step 0\/1 epoch 1\/1 \(eta and rates paused\)$/);
    assert.match(records[1]!, /^step 1\/1 epoch 1\/1 /);
  });
});
