// GroupSize on a real session: the coordinator counts the workers an aggregator says it has (0 too),
// refuses a count it cannot believe (and keeps the last one), and a version 4 peer (which would never
// send one, and so be counted as one worker) is refused at Join with both versions named.

import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { CoordinatorServer } from '../../../coordinator/grpc/coordinator_server.js';
import { RunEvents } from '../../../coordinator/run_events.js';
import { type PoolEvent, WorkerPool } from '../../../coordinator/worker_pool.js';
import type * as pb from '../../../shared/wire/messages.js';
import { PROTOCOL_VERSION, loadWireProtos } from '../../../shared/wire/proto_loader.js';
import { within } from '../../distributed/worker_process.js';

const FINGERPRINT = { variant: 'test', checkpoint_sha256: 'none', lora_layout_hash: 'layout' };
const cleanups: (() => void)[] = [];
after(() => cleanups.forEach((c) => c()));

function join(address: string, version: number): Promise<{ client: grpc.Client & { Session(): grpc.ClientDuplexStream<pb.WorkerMessageOut, pb.CoordinatorMessage> }; reply: pb.JoinReply }> {
  const client = new (loadWireProtos().coordinator.Client)(address, grpc.credentials.createInsecure());
  cleanups.push(() => client.close());
  const request = { protocol_version: version, software_version: 'test', capabilities: { device: 'aggregator', gpu_index: 0, threads: 0, hostname: 'h', cuda_available: false, group: 'g' } };
  return new Promise((resolve, reject) => client.Join(request, { deadline: Date.now() + 10_000 }, (err, reply) => (err || !reply ? reject(err ?? new Error('no reply')) : resolve({ client, reply }))));
}

describe('GroupSize', () => {
  it('counts the group for min_workers, refuses nonsense, and version 4 is refused at Join', { timeout: 30_000 }, async () => {
    const events: PoolEvent[] = [];
    let onEvent = (): void => undefined;
    const pool = new WorkerPool(3, (e) => (events.push(e), onEvent()));
    const rejections: string[] = [];
    let onRejected = (): void => undefined;
    const runEvents = new RunEvents();
    runEvents.on((e) => void (e.kind === 'message_rejected' && (rejections.push(e.reason), onRejected())));
    const server = await CoordinatorServer.start({ listen: '127.0.0.1:0', pool, runId: 'r', configYaml: '', fingerprint: FINGERPRINT, trainable: new Map(), heartbeatMs: 1000, events: runEvents });
    cleanups.push(() => server.forceStop());
    const next = (match: (e: PoolEvent) => boolean): Promise<void> => new Promise((resolve) => (onEvent = () => void (events.some(match) && resolve())));

    await assert.rejects(join(server.address, 4), (e: grpc.ServiceError) => e.code === grpc.status.FAILED_PRECONDITION && new RegExp(`protocol version 4 is not this coordinator's ${PROTOCOL_VERSION}`).test(e.details));

    const { client, reply } = await join(server.address, PROTOCOL_VERSION);
    const call = client.Session();
    cleanups.push(() => call.cancel());
    call.on('error', () => undefined);
    const welcomed = new Promise<void>((resolve) => call.on('data', (m: pb.CoordinatorMessage) => void (m.kind === 'welcome' && resolve())));
    call.write({ hello: { worker_id: reply.worker_id, loaded: FINGERPRINT } });
    await within(10_000, 'welcome', welcomed);
    assert.equal(pool.workers, 1, 'a session counts as one until it says otherwise');

    const ready = pool.ready();
    call.write({ group_size: { workers: 3 } });
    await within(10_000, 'three workers behind one session meet min_workers 3', ready);
    assert.equal(pool.workers, 3);

    rejections.length = 0;
    const rejected = new Promise<void>((resolve) => (onRejected = resolve));
    call.write({ group_size: { workers: 5000 } });
    await within(10_000, 'the count is refused', rejected);
    assert.match(rejections.join('; '), /group_size.workers is 5000, not a count from 0 to 4096/);
    assert.equal(pool.workers, 3, 'the last believable count stays');

    const none = next((e) => e.kind === 'resized' && e.workers === 0);
    call.write({ group_size: { workers: 0 } });
    await within(10_000, 'a group with no worker counts 0', none);
    assert.equal(pool.workers, 0);
    assert.equal(pool.size, 1);
  });
});
