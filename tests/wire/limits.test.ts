import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import {
  CHUNK_HEADROOM_BYTES,
  channelLimitOptions,
  chunkBytesFor,
  tensorChunkBytes,
  TENSOR_CHUNK_TARGET_BYTES,
  DEFAULT_MAX_MESSAGE_BYTES,
  KiB,
  LimitError,
  MiB,
  negotiateMaxMessageBytes,
  serverLimitOptions,
  validateMaxMessageBytes,
} from '../../shared/wire/limits.js';
import { type CoordinatorClient, type CoordinatorHandlers, type JoinReply, loadWireProtos } from '../../shared/wire/proto_loader.js';
import { encodeTensors } from '../../shared/wire/tensor_codec.js';
import { deadline, type RunningServer, sampleJoinRequest, startServer, statusOf, trivialCoordinator, unary } from './helpers.js';

test('limit options set both directions; defaults to 16 MiB', () => {
  assert.equal(DEFAULT_MAX_MESSAGE_BYTES, 16 * MiB);
  assert.deepEqual(serverLimitOptions(), { 'grpc.max_receive_message_length': 16 * MiB, 'grpc.max_send_message_length': 16 * MiB });
  assert.deepEqual(channelLimitOptions(4 * MiB), { 'grpc.max_receive_message_length': 4 * MiB, 'grpc.max_send_message_length': 4 * MiB });
});

test('invalid limits are refused', () => {
  for (const bad of [0, -1, 1000, 64 * KiB - 1, 2 ** 31, 1.5 * MiB + 0.5, Number.NaN]) {
    assert.throws(() => validateMaxMessageBytes(bad), LimitError, String(bad));
  }
  assert.equal(validateMaxMessageBytes(64 * KiB), 64 * KiB);
});

test('the chunk size leaves headroom and is whole float32 elements; a full chunk message fits the limit', () => {
  for (const limit of [64 * KiB, 4 * MiB, 4 * MiB + 3, DEFAULT_MAX_MESSAGE_BYTES]) {
    const c = chunkBytesFor(limit);
    assert.equal(c % 4, 0);
    assert.ok(c <= limit - CHUNK_HEADROOM_BYTES && c > limit - CHUNK_HEADROOM_BYTES - 4);
  }
  // Serialized size of a worst-case chunk message (longest name, highest rank, full data).
  const limit = 64 * KiB;
  const session = loadWireProtos().coordinator.definition.Session;
  const n = chunkBytesFor(limit) / 4;
  const [chunk] = encodeTensors(new Map([['n'.repeat(1024), { shape: [1, 1, 1, 1, 1, 1, 1, n], data: new Float32Array(n) }]]), {
    encoding: 'fp32',
    maxChunkBytes: chunkBytesFor(limit),
  });
  const bytes = session.requestSerialize({ tensor: { ...chunk, offset_elements: 2 ** 50, total_elements: 2 ** 51 } });
  assert.ok(bytes.length <= limit, `${bytes.length} > ${limit}`);
});

test('negotiation takes the smaller limit', () => {
  assert.equal(negotiateMaxMessageBytes(16 * MiB, 4 * MiB), 4 * MiB);
  assert.equal(negotiateMaxMessageBytes(4 * MiB, 16 * MiB), 4 * MiB);
  assert.equal(negotiateMaxMessageBytes(4 * MiB), 4 * MiB);
  assert.equal(negotiateMaxMessageBytes(4 * MiB, 0), 4 * MiB);
});

// ---------------------------------------------------------------------------------------------
// Over a real connection

const SERVER_LIMIT = 1 * MiB;
let srv: RunningServer;
const clients: grpc.Client[] = [];

before(async () => {
  const protos = loadWireProtos();
  const base = trivialCoordinator();
  const handlers: CoordinatorHandlers = {
    ...base,
    // Replies with a 200 KiB config when asked to (for the client receive-limit test).
    Join: (call, callback) => {
      base.Join(call, (err, reply) => {
        if (reply === undefined || reply === null) return callback(err);
        const big = call.request.software_version.startsWith('big-reply:');
        callback(null, { ...reply, config_yaml: big ? 'x'.repeat(200 * KiB) : reply.config_yaml });
      });
    },
  };
  srv = await startServer((s) => s.addService(protos.coordinator.definition, handlers), undefined, serverLimitOptions(SERVER_LIMIT));
});

after(() => {
  for (const c of clients) c.close();
  srv?.close();
});

function client(limit: number): CoordinatorClient {
  const { Client } = loadWireProtos().coordinator;
  const c = new Client(srv.address, grpc.credentials.createInsecure(), channelLimitOptions(limit));
  clients.push(c);
  return c;
}

async function joinStatus(c: CoordinatorClient, softwareVersion: string): Promise<number | undefined> {
  try {
    await unary<JoinReply>((cb) => c.Join({ ...sampleJoinRequest(), software_version: softwareVersion }, { deadline: deadline() }, cb));
    return grpc.status.OK;
  } catch (e) {
    return statusOf(e);
  }
}

test('a message under the limit goes through', async () => {
  assert.equal(await joinStatus(client(SERVER_LIMIT), 'v'.repeat(512 * KiB)), grpc.status.OK);
});

test('a request over the server\'s receive limit is RESOURCE_EXHAUSTED', async () => {
  assert.equal(await joinStatus(client(8 * MiB), 'v'.repeat(2 * MiB)), grpc.status.RESOURCE_EXHAUSTED);
});

test('a request over the client\'s own send limit is RESOURCE_EXHAUSTED before it leaves', async () => {
  assert.equal(await joinStatus(client(SERVER_LIMIT), 'v'.repeat(2 * MiB)), grpc.status.RESOURCE_EXHAUSTED);
});

test('a reply over the client\'s receive limit is RESOURCE_EXHAUSTED', async () => {
  assert.equal(await joinStatus(client(64 * KiB), 'big-reply:'), grpc.status.RESOURCE_EXHAUSTED);
});

test('tensor messages carry at most 1 MiB of data, less when the message limit is smaller', () => {
  assert.equal(tensorChunkBytes(), TENSOR_CHUNK_TARGET_BYTES);
  assert.equal(TENSOR_CHUNK_TARGET_BYTES, MiB);
  assert.equal(tensorChunkBytes(64 * KiB), chunkBytesFor(64 * KiB));
  assert.equal(tensorChunkBytes(DEFAULT_MAX_MESSAGE_BYTES), MiB);
});
