// Assignments larger than the message limit (issue 15, item 3), with a real worker process and a
// 64 KiB limit: a step of 8 samples of ~13 KB and an evaluation of 20 go through (each sample
// travels in its own message); a dataset with a sample over the limit is refused when the run
// starts, naming the sample, instead of failing and re-queueing the same work forever.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { runDistributed } from '../../coordinator/distributed_run.js';
import { MIN_MAX_MESSAGE_BYTES } from '../../shared/wire/limits.js';
import { SharedToken, TOKEN_ENV_VAR } from '../../shared/wire/security.js';
import { tinyRunConfig } from './helpers.js';
import { WorkerProcess, within } from './worker_process.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'samlora-limit-'));
const env = { ...process.env, [TOKEN_ENV_VAR]: 'limit-token-0123456789abcdef' };
const workers: WorkerProcess[] = [];
after(() => {
  for (const w of workers) w.kill();
  rmSync(tmp, { recursive: true, force: true });
});

describe('message limit', () => {
  it('a step and an evaluation share far over the limit are delivered sample by sample', async () => {
    const config = await tinyRunConfig(path.join(tmp, 'big'), { train: 8, test: 20, batch: 8, epochs: 1 });
    const s = await within(
      120_000,
      'the run',
      runDistributed({
        configPath: config,
        runDir: path.join(tmp, 'big', 'run'),
        listen: '127.0.0.1:0',
        minWorkers: 1,
        token: SharedToken.fromEnv(TOKEN_ENV_VAR, env),
        maxMessageBytes: MIN_MAX_MESSAGE_BYTES,
        onListening: (address) => workers.push(new WorkerProcess(address, env)),
      }),
    );
    assert.equal(s.status, 'completed');
    assert.equal(s.evictions, 0);
    assert.deepEqual(s.epochs.map((e) => [e.samples_trained, e.duplicates, e.missing]), [[8, 0, 0]]);
    assert.ok(s.eval_before && s.eval_after, 'both evaluations of the 20 test samples ran');
  });

  it('a sample larger than one message is refused when the run starts, by name', async () => {
    // 128 px demo images are ~50 KB: over 64 KiB less the 16 KiB kept for the rest of the message.
    const config = await tinyRunConfig(path.join(tmp, 'huge'), { train: 2, test: 1, size: 128, batch: 2, epochs: 1 });
    await assert.rejects(
      runDistributed({ configPath: config, runDir: path.join(tmp, 'huge', 'run'), listen: '127.0.0.1:0', minWorkers: 1, maxMessageBytes: MIN_MAX_MESSAGE_BYTES }),
      /3 sample\(s\) are larger than one message can carry \(49152 bytes: .*train sample \S+ \(\d+ bytes\)/,
    );
  });
});
