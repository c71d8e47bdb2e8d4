// Synchronous data parallel over gRPC: 2 workers with half the batch each reproduce 1 worker with the
// whole batch (same per-step losses and final weights, 1e-5), and every worker holds the same weights.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { runDistributed } from '../../coordinator/distributed_run.js';
import type { Summary } from '../../coordinator/trainer.js';
import { loadLora } from '../../shared/sam/lora_io.js';
import { runRemoteWorker } from '../../worker/grpc_worker.js';
import { SharedToken } from '../../shared/wire/security.js';
import { generateCerts, hasOpenssl } from '../wire/helpers.js';
import { tinyRunConfig } from './helpers.js';
import { OPENSSL, skipWithout } from '../helpers/required_tool.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'samlora-dist-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

async function distributed(name: string, config: string, workers: number): Promise<Summary> {
  const stop = new AbortController();
  const joined: Promise<void>[] = [];
  try {
    return await runDistributed({
      configPath: config,
      runDir: path.join(tmp, name),
      listen: '127.0.0.1:0',
      minWorkers: workers,
      deadlineMs: 60_000,
      onListening: (address) => {
        for (let i = 0; i < workers; i++) joined.push(runRemoteWorker({ address, runtime: { intraOpThreads: 1 }, signal: stop.signal, maxAttempts: 3 }));
      },
    });
  } finally {
    stop.abort();
    await Promise.allSettled(joined);
  }
}

describe('distributed training over gRPC', () => {
  it('2 workers x batch b reproduce 1 worker x batch 2b: same losses and final weights', async () => {
    const config = await tinyRunConfig(tmp);
    const one = await distributed('one', config, 1);
    const two = await distributed('two', config, 2);
    assert.equal(one.status, 'completed');
    assert.equal(two.status, 'completed');
    assert.equal(two.losses.length, one.losses.length);
    two.losses.forEach((l, i) => assert.ok(Math.abs(l - one.losses[i]!) <= 1e-5 * Math.max(1, Math.abs(one.losses[i]!)), `step ${i}: ${l} vs ${one.losses[i]}`));
    assert.deepEqual(two.epochs.map((e) => [e.samples_trained, e.duplicates, e.missing]), [[8, 0, 0], [8, 0, 0]]);
    const a = await loadLora(path.join(one.checkpoints.final!, 'lora.safetensors'));
    const b = await loadLora(path.join(two.checkpoints.final!, 'lora.safetensors'));
    for (const [k, t] of a.tensors) {
      const u = b.tensors.get(k)!.data;
      let maxRef = 0;
      let maxDiff = 0;
      t.data.forEach((v, i) => {
        maxRef = Math.max(maxRef, Math.abs(v));
        maxDiff = Math.max(maxDiff, Math.abs(v - u[i]!));
      });
      assert.ok(maxDiff <= 1e-5 * Math.max(maxRef, 1e-6), `${k}: max diff ${maxDiff} (max ${maxRef})`);
    }
    assert.equal(two.evictions, 0, 'no worker was refused for a weights-hash mismatch');
  });

  it('runs over TLS with a token, and with bf16 on the wire within bf16 error of fp32', { skip: skipWithout(hasOpenssl(), OPENSSL) }, async () => {
    const certs = generateCerts(mkdtempSync(path.join(tmp, 'certs-')));
    const config = await tinyRunConfig(path.join(tmp, 'tls'), { train: 4, batch: 2, epochs: 1 });
    const token = SharedToken.fromEnv('T', { T: 'tls-token-0123456789abcdef' });
    const stop = new AbortController();
    const joined: Promise<void>[] = [];
    const run = (name: string, encoding: 'fp32' | 'bf16'): Promise<Summary> =>
      runDistributed({
        configPath: config,
        runDir: path.join(tmp, 'tls', name),
        listen: '127.0.0.1:0',
        minWorkers: 1,
        token,
        encoding,
        security: { mode: 'tls', certFile: certs.serverCert, keyFile: certs.serverKey },
        progress: (l) => process.env.EQ_DEBUG && console.log(l),
        onListening: (address) => joined.push(runRemoteWorker({ address, token, security: { mode: 'tls', caFile: certs.caCert }, runtime: { intraOpThreads: 1 }, signal: stop.signal, maxAttempts: 3, log: (l) => process.env.EQ_DEBUG && console.log('W', l) })),
      });
    try {
      const fp32 = await run('fp32', 'fp32');
      const bf16 = await run('bf16', 'bf16');
      assert.equal(fp32.status, 'completed');
      assert.equal(bf16.status, 'completed');
      // bf16 keeps 8 bits of mantissa: weights and gradients within ~2^-8 relative per step.
      bf16.losses.forEach((l, i) => assert.ok(Math.abs(l - fp32.losses[i]!) <= 2e-2 * Math.abs(fp32.losses[i]!), `step ${i}: ${l} vs ${fp32.losses[i]}`));
    } finally {
      stop.abort();
      await Promise.allSettled(joined);
    }
  });
});
