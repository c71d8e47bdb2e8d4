// What a worker process does when its session ends (issue 15, item 1), with real worker processes:
// evicted (SIGSTOP past the heartbeat limit, then SIGCONT), it joins again after the cooldown; when
// the coordinator stops before the end of the run, it stays and rejoins the coordinator that resumes
// the run; it exits 0 only once the run is complete.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { runDistributed } from '../../coordinator/distributed_run.js';
import { SharedToken, TOKEN_ENV_VAR } from '../../shared/wire/security.js';
import { tinyRunConfig } from './helpers.js';
import { WorkerProcess, freePort, within } from './worker_process.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'samlora-stop-'));
const env = { ...process.env, [TOKEN_ENV_VAR]: 'stop-token-0123456789abcdef' };
const workers: WorkerProcess[] = [];
after(() => {
  for (const w of workers) w.kill();
  rmSync(tmp, { recursive: true, force: true });
});

describe('stop reasons', () => {
  it('an evicted worker rejoins; a coordinator stop leaves the workers waiting; they rejoin the resumed run and exit 0 when it is complete', async () => {
    const config = await tinyRunConfig(tmp, { train: 8, batch: 2, epochs: 2 });
    const port = await freePort();
    const address = `127.0.0.1:${port}`;
    const runDir = path.join(tmp, 'run');
    const common = {
      configPath: config,
      runDir,
      listen: address,
      // Both workers are needed: after the eviction the run can only go on once the same process is back.
      minWorkers: 2,
      token: SharedToken.fromEnv(TOKEN_ENV_VAR, env),
      heartbeatMs: 200,
      evictionCooldownMs: 300,
      deadlineMs: 60_000,
      // Both workers are connected at the end (checked below): no grace period for returning ones.
      completionGraceMs: 0,
    };
    const a = new WorkerProcess(address, env);
    const b = new WorkerProcess(address, env);
    workers.push(a, b);

    const stop = new AbortController();
    const lines: string[] = [];
    let paused = false;
    const first = await within(
      120_000,
      'the first coordinator',
      runDistributed({
        ...common,
        signal: stop.signal,
        progress: (line) => {
          lines.push(line);
          // Step 2 done: freeze worker a until the coordinator has evicted it for silence.
          if (!paused && / step 2\//.test(line)) {
            paused = true;
            a.kill('SIGSTOP');
          }
          if (paused && / left: .*heartbeat/.test(line)) a.kill('SIGCONT');
          if (/ step 5\//.test(line)) stop.abort();
        },
      }),
    );
    assert.equal(first.status, 'stopped', lines.join('\n'));
    assert.ok(first.evictions >= 1, 'worker a was evicted');
    // The worker's own side: told it was evicted, it joined again (the run could not go on without it).
    await a.waitFor(/^evicted; joining again/);
    assert.equal(a.count(/^joined run /), 2, a.messages.join('\n'));
    // Same run, same checkpoint: the model and ORT sessions were kept, not rebuilt (issue 15, item 6).
    assert.equal(a.count(/^kept the model and sessions/), 1, a.messages.join('\n'));
    // The coordinator's stop is not the end of the run: both stay, waiting for it to come back.
    await a.waitFor(/^the coordinator is stopping; joining again/);
    await b.waitFor(/^the coordinator is stopping; joining again/);
    assert.ok(a.alive && b.alive, 'workers stay after a coordinator stop');

    const second = await within(120_000, 'the resumed coordinator', runDistributed({ ...common, resume: true }));
    assert.equal(second.status, 'completed');
    assert.deepEqual(second.epochs.map((e) => [e.samples_trained, e.duplicates, e.missing]), [[8, 0, 0], [8, 0, 0]]);
    // The same processes served the resumed run, and left only now that it is complete.
    assert.equal(a.count(/^joined run /), 3, a.messages.join('\n'));
    assert.equal(b.count(/^joined run /), 2, b.messages.join('\n'));
    assert.equal(b.count(/^kept the model and sessions/), 1, 'kept across a coordinator restart too');
    assert.equal(await within(20_000, 'worker a exit', a.exit), 0);
    assert.equal(await within(20_000, 'worker b exit', b.exit), 0);
  });
});
