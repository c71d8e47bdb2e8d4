// A weights sync to a worker that stops reading its stream (issue 15, item 2), over real gRPC: the
// coordinator's writes back up, and pool.sync must still settle, evicting that worker, whether it
// also stops its heartbeats (evicted for silence) or keeps them up (the weights deadline).

import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { CoordinatorServer } from '../../../coordinator/grpc/coordinator_server.js';
import { WorkerPool } from '../../../coordinator/worker_pool.js';
import type { Fingerprint } from '../../../shared/contract/fingerprint.js';
import type * as pb from '../../../shared/wire/messages.js';
import { PROTOCOL_VERSION, loadWireProtos } from '../../../shared/wire/proto_loader.js';
import { channelLimitOptions } from '../../../shared/wire/limits.js';
import { within } from '../../distributed/worker_process.js';

const FINGERPRINT: Fingerprint = { variant: 'test', checkpoint_sha256: 'none', lora_layout_hash: 'layout' };
// 48 MiB of weights: more than the HTTP/2 windows (16 MiB) and grpc-js's buffers hold, so the
// coordinator's writes wait for a drain that a worker not reading never lets come.
const ELEMENTS = 12 * 1024 * 1024;
const trainable = new Map([['w', [ELEMENTS]]]);
const params = new Map([['w', new Float32Array(ELEMENTS).fill(0.5)]]);
const cleanups: (() => void)[] = [];
after(() => cleanups.forEach((c) => c()));

/** Joins, says hello, and stops reading once welcomed; sends heartbeats if told to. */
function stalledWorker(address: string, heartbeats: boolean): Promise<void> {
  const protos = loadWireProtos();
  const client = new protos.coordinator.Client(address, grpc.credentials.createInsecure(), channelLimitOptions());
  return new Promise((resolve, reject) => {
    client.Join({ protocol_version: PROTOCOL_VERSION, software_version: 'test', capabilities: null } as unknown as pb.JoinRequest, { deadline: Date.now() + 10_000 }, (err, reply) => {
      if (err || !reply) return reject(err ?? new Error('no reply'));
      const call = client.Session();
      let timer: NodeJS.Timeout | undefined;
      cleanups.push(() => {
        clearInterval(timer);
        call.cancel();
        client.close();
      });
      call.on('error', () => undefined);
      call.on('data', (m: pb.CoordinatorMessage) => {
        if (m.kind !== 'welcome') return;
        call.pause();
        if (heartbeats) {
          let sequence = 0;
          timer = setInterval(() => call.write({ heartbeat: { unix_millis: Date.now(), sequence: ++sequence } }), 50);
        }
        resolve();
      });
      call.write({ hello: { worker_id: reply.worker_id, loaded: FINGERPRINT } });
    });
  });
}

async function syncTo(heartbeats: boolean, deadlineMs: number): Promise<{ evicted: string[]; pool: WorkerPool }> {
  const evicted: string[] = [];
  const pool = new WorkerPool(1, (e) => void (e.kind === 'evicted' && evicted.push(e.reason)));
  const server = await CoordinatorServer.start({ listen: '127.0.0.1:0', pool, runId: 'stall', configYaml: '', fingerprint: FINGERPRINT, trainable, heartbeatMs: 200, deadlineMs });
  cleanups.push(() => server.forceStop());
  await within(15_000, 'the worker joins', stalledWorker(server.address, heartbeats));
  assert.equal(pool.size, 1);
  await within(30_000, 'pool.sync settles', pool.sync(1, params));
  return { evicted, pool };
}

describe('weights sync to a worker that stops reading', () => {
  it('settles when the worker dies (no heartbeats): evicted for silence', async () => {
    const { evicted, pool } = await syncTo(false, 600_000);
    assert.equal(pool.size, 0);
    assert.ok(evicted.some((r) => /heartbeat/.test(r)), evicted.join('; '));
  });

  it('settles at the deadline when the worker keeps sending heartbeats', async () => {
    const { evicted, pool } = await syncTo(true, 1500);
    assert.equal(pool.size, 0);
    assert.ok(evicted.some((r) => /could not take weights version 1: .*did not take weights version 1 within 1500 ms/.test(r)), evicted.join('; '));
  });
});
