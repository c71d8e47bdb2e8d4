// Liveness between the coordinator and real worker processes (issue 15, item 4): a coordinator whose
// event loop stalls for longer than the heartbeat limit (a long reduction, a GC pause) and whose wall
// clock jumps 10 s (an NTP step) evicts nobody; a worker that hears nothing from its coordinator
// for the timeout drops the session and joins again.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { runDistributed } from '../../coordinator/distributed_run.js';
import { SharedToken, TOKEN_ENV_VAR } from '../../shared/wire/security.js';
import { tinyRunConfig } from './helpers.js';
import { WorkerProcess, within } from './worker_process.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'samlora-live-'));
const env = { ...process.env, [TOKEN_ENV_VAR]: 'live-token-0123456789abcdef' };
const workers: WorkerProcess[] = [];
const realNow = Date.now;
after(() => {
  Date.now = realNow;
  for (const w of workers) w.kill();
  rmSync(tmp, { recursive: true, force: true });
});

/** Blocks this process's event loop for `ms` (what a long synchronous reduction does). */
function stall(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // busy: nothing else runs
  }
}

describe('liveness', () => {
  it('a 1.5 s stall of the coordinator and a 10 s wall-clock jump evict nobody (heartbeats every 200 ms)', async () => {
    const config = await tinyRunConfig(path.join(tmp, 'stall'), { train: 8, batch: 2, epochs: 1 });
    let stalled = false;
    const s = await within(
      120_000,
      'the run',
      runDistributed({
        configPath: config,
        runDir: path.join(tmp, 'stall', 'run'),
        listen: '127.0.0.1:0',
        minWorkers: 2,
        token: SharedToken.fromEnv(TOKEN_ENV_VAR, env),
        heartbeatMs: 200,
        completionGraceMs: 0,
        onListening: (address) => workers.push(new WorkerProcess(address, env), new WorkerProcess(address, env)),
        progress: (line) => {
          if (stalled || !/ step 2\//.test(line)) return;
          stalled = true;
          Date.now = () => realNow() + 10_000;
          stall(1500);
        },
      }),
    );
    Date.now = realNow;
    assert.ok(stalled);
    assert.equal(s.status, 'completed');
    assert.equal(s.evictions, 0, 'the workers were alive all along');
  });

  it('a worker drops a session on which the coordinator stays silent past its timeout, and joins again', async () => {
    const config = await tinyRunConfig(path.join(tmp, 'silent'), { train: 8, batch: 2, epochs: 1 });
    let stalled = false;
    let worker: WorkerProcess | undefined;
    const s = await within(
      120_000,
      'the run',
      runDistributed({
        configPath: config,
        runDir: path.join(tmp, 'silent', 'run'),
        listen: '127.0.0.1:0',
        minWorkers: 1,
        token: SharedToken.fromEnv(TOKEN_ENV_VAR, env),
        heartbeatMs: 200,
        coordinatorTimeoutMs: 1000,
        completionGraceMs: 0,
        onListening: (address) => workers.push((worker = new WorkerProcess(address, env))),
        progress: (line) => {
          if (stalled || !/ step 2\//.test(line)) return;
          stalled = true;
          // Frozen like a coordinator behind a partition: no heartbeats reach the worker.
          stall(2500);
        },
      }),
    );
    assert.equal(s.status, 'completed');
    assert.deepEqual(s.epochs.map((e) => [e.samples_trained, e.duplicates, e.missing]), [[8, 0, 0]]);
    assert.equal(worker!.count(/^nothing from the coordinator for \d+\.\d s; dropping the session/), 1, worker!.messages.join('\n'));
    assert.equal(worker!.count(/^joined run /), 2, worker!.messages.join('\n'));
  });
});
