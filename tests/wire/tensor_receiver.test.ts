import { test } from 'node:test';
import assert from 'node:assert/strict';
import type * as pb from '../../shared/wire/messages.js';
import { packedTensorMessages } from '../../shared/wire/packed_tensors.js';
import { loadWireProtos } from '../../shared/wire/proto_loader.js';
import { TensorWireError, encodeTensors } from '../../shared/wire/tensor_codec.js';
import { type TensorMessage, TensorReceiver } from '../../shared/wire/tensor_receiver.js';
import type { HostTensor } from '../../shared/tensor/host_tensor.js';

const session = loadWireProtos().coordinator.definition.Session;
const tensors = new Map<string, HostTensor>([
  ['x', { shape: [2, 3], data: Float32Array.of(1, 2, 3, 4, 5, 6) }],
  ['y', { shape: [4], data: Float32Array.of(-1, -2, -3, -4) }],
]);
const layout: pb.TensorInfo[] = [...tensors].map(([name, t]) => ({ name, shape: [...t.shape] }));
const perTensor = (): TensorMessage[] => encodeTensors(tensors, { encoding: 'fp32', maxChunkBytes: 8 }).map((tensor) => ({ kind: 'tensor', tensor }));
const packed = (): TensorMessage[] =>
  [...packedTensorMessages(tensors, { encoding: 'fp32', maxChunkBytes: 8, envelope: 'worker_message' })].map((m) => session.requestDeserialize(m.bytes) as TensorMessage);

for (const [form, messages] of [['per tensor', perTensor], ['packed', packed]] as const) {
  test(`receives the header's tensors sent ${form}, and says when all arrived`, () => {
    const r = new TensorReceiver(layout, { rejectNonFinite: true });
    const ms = messages();
    ms.forEach((m, i) => {
      assert.equal(r.complete, false, `before message ${i}`);
      r.push(m);
    });
    assert.equal(r.complete, true);
    assert.equal(r.bytes, 10 * 4);
    const got = r.finish();
    for (const [k, t] of tensors) assert.deepEqual(got.get(k)!.data, t.data);
  });
}

test('the two forms are never mixed within one header', () => {
  const a = new TensorReceiver(layout);
  a.push(perTensor()[0]!);
  assert.throws(() => a.push(packed()[0]!), (e: unknown) => e instanceof TensorWireError && e.code === 'INTERLEAVED');
  const b = new TensorReceiver(layout);
  b.push(packed()[0]!);
  assert.throws(() => b.push(perTensor()[0]!), (e: unknown) => e instanceof TensorWireError && e.code === 'INTERLEAVED');
});

test('the caller\'s allow-list is applied to either form; nothing announced is complete at once; nothing arrived is missing', () => {
  const expected = new Map<string, readonly number[]>([['x', [3, 2]], ['y', [4]]]);
  assert.throws(() => new TensorReceiver(layout, { expected }).push(packed()[0]!), (e: unknown) => e instanceof TensorWireError && e.code === 'SHAPE_MISMATCH');
  assert.throws(() => new TensorReceiver(layout, { expected }).push(perTensor()[0]!), (e: unknown) => e instanceof TensorWireError && e.code === 'SHAPE_MISMATCH');
  const none = new TensorReceiver([]);
  assert.equal(none.complete, true);
  assert.equal(none.finish().size, 0);
  assert.throws(() => new TensorReceiver(layout).finish(), (e: unknown) => e instanceof TensorWireError && e.code === 'MISSING_TENSOR');
});
