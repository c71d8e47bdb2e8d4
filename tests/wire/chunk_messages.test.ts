import { test } from 'node:test';
import assert from 'node:assert/strict';
import { tensorChunkMessages } from '../../shared/wire/chunk_messages.js';
import { loadWireProtos } from '../../shared/wire/proto_loader.js';
import type * as pb from '../../shared/wire/messages.js';
import { type HostTensor, type TensorEncoding, TensorWireError, iterateTensorChunks } from '../../shared/wire/tensor_codec.js';

const session = loadWireProtos().coordinator.definition.Session;

function tensors(): Map<string, HostTensor> {
  const t = (shape: number[], f: (i: number) => number): HostTensor => ({ shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => f(i)) });
  return new Map([
    ['blocks.0.attn.lora_q.A', t([4, 300], (i) => Math.sin(i) * 1e-3)],
    // A name with non-ASCII characters and a scalar (empty shape).
    ['scalé', t([], () => -2.5)],
    ['empty', t([0, 3], () => 0)],
    ['extremes', t([6], (i) => [Number.MAX_VALUE, -0, 1e-45, -3.4e38, 7, 200_000][i]!)],
    ['big', t([130, 1000], (i) => Math.cos(i))],
  ]);
}

const plain = (c: pb.TensorChunk): unknown => ({ ...c, data: [...c.data] });

for (const encoding of ['fp32', 'bf16'] as TensorEncoding[]) {
  for (const maxChunkBytes of [4, 1000, 16_384, 1 << 20]) {
    test(`pre-serialized chunks decode to the same TensorChunks as the object path (${encoding}, ${maxChunkBytes} bytes per chunk)`, () => {
      const want = [...iterateTensorChunks(tensors(), { encoding, maxChunkBytes })];
      const toCoordinator = [...tensorChunkMessages(tensors(), { encoding, maxChunkBytes, envelope: 'worker_message' })].map((m) => session.requestDeserialize(m.bytes) as pb.WorkerMessage);
      const toWorker = [...tensorChunkMessages(tensors(), { encoding, maxChunkBytes, envelope: 'coordinator_message' })].map((m) => session.responseDeserialize(m.bytes) as pb.CoordinatorMessage);
      assert.equal(toCoordinator.length, want.length);
      assert.equal(toWorker.length, want.length);
      want.forEach((c, i) => {
        const a = toCoordinator[i]!;
        const b = toWorker[i]!;
        assert.equal(a.kind, 'tensor');
        assert.equal(b.kind, 'tensor');
        if (a.kind !== 'tensor' || b.kind !== 'tensor') return;
        assert.deepEqual(plain(a.tensor), plain(c), `chunk ${i} to the coordinator`);
        assert.deepEqual(plain(b.tensor), plain(c), `chunk ${i} to a worker`);
      });
    });
  }
}

test('pre-serialized chunks copy the data: changing the array afterwards changes nothing sent', () => {
  const t = tensors();
  const messages = [...tensorChunkMessages(t, { encoding: 'fp32', maxChunkBytes: 1 << 20, envelope: 'worker_message' })];
  const before = messages.map((m) => Buffer.from(m.bytes));
  for (const v of t.values()) v.data.fill(42);
  messages.forEach((m, i) => assert.deepEqual(m.bytes, before[i]));
});

test('pre-serialized chunks refuse what could not be reassembled, like the object path', () => {
  const bad = new Map([['x', { shape: [2, 2], data: new Float32Array(3) }]]);
  assert.throws(() => [...tensorChunkMessages(bad, { encoding: 'fp32', maxChunkBytes: 64, envelope: 'worker_message' })], (e: unknown) => e instanceof TensorWireError && e.code === 'INVALID_INPUT');
  assert.throws(() => [...tensorChunkMessages(new Map([['', { shape: [1], data: new Float32Array(1) }]]), { encoding: 'fp32', maxChunkBytes: 64, envelope: 'worker_message' })], (e: unknown) => e instanceof TensorWireError && e.code === 'BAD_NAME');
  assert.throws(() => [...tensorChunkMessages(tensors(), { encoding: 'bf16', maxChunkBytes: 1, envelope: 'worker_message' })], (e: unknown) => e instanceof TensorWireError && e.code === 'INVALID_INPUT');
});
