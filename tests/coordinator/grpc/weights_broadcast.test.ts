// The weights broadcast is encoded once per version and shared by every worker's session: the same
// messages for the same version, new ones after a version bump, and bytes a worker decodes back to
// exactly the coordinator's weights (fp32) or their bf16 rounding (whose hash it reports).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { WeightsBroadcast } from '../../../coordinator/grpc/weights_broadcast.js';
import { weightsHash } from '../../../shared/tensor/weights_hash.js';
import type * as pb from '../../../shared/wire/messages.js';
import { loadWireProtos } from '../../../shared/wire/proto_loader.js';
import { TensorReceiver } from '../../../shared/wire/tensor_receiver.js';

const trainable = new Map<string, readonly number[]>([
  ['a', [3, 5]],
  ['b', [7]],
]);

function params(seed: number): Map<string, Float32Array> {
  return new Map([...trainable].map(([k, s]) => [k, Float32Array.from({ length: s.reduce((x, y) => x * y, 1) }, (_, i) => Math.sin(seed + i) / 3)]));
}

/** Decodes the broadcast as a worker would (through the real protobuf codec). */
function decode(messages: { bytes: Buffer }[]): Map<string, Float32Array> {
  const type = loadWireProtos().coordinator.definition.Session.responseDeserialize;
  const out = messages.map((m) => type(m.bytes) as pb.CoordinatorMessage);
  const header = out[0]!;
  assert.equal(header.kind, 'weights');
  if (header.kind !== 'weights') return new Map();
  const receiver = new TensorReceiver(header.weights.tensors, { expected: trainable });
  for (const m of out.slice(1)) {
    assert.equal(m.kind, 'packed', 'the tensors follow packed');
    if (m.kind === 'packed') receiver.push(m);
  }
  assert.ok(receiver.complete);
  return new Map([...receiver.finish()].map(([k, t]) => [k, t.data]));
}

describe('weights broadcast', () => {
  const protos = loadWireProtos();
  const make = (encoding: 'fp32' | 'bf16'): WeightsBroadcast => new WeightsBroadcast({ trainable, encoding, chunkBytes: 16, encode: (m) => protos.encodeCoordinatorMessage(m) });

  it('encodes a version once and decodes to exactly the weights (fp32)', () => {
    const b = make('fp32');
    const p = params(1);
    const first = b.encoded(4, p);
    assert.equal(b.encoded(4, p), first, 'the same version is not encoded again');
    assert.equal(first.ownHash, weightsHash(p));
    assert.equal(first.wireHash, first.ownHash);
    assert.equal(first.payloadBytes, (15 + 7) * 4);
    assert.deepEqual(decode(first.messages), p);
    p.get('a')![0] = 42; // the trainer updates in place, then bumps the version
    const next = b.encoded(5, p);
    assert.notEqual(next, first);
    assert.equal(decode(next.messages).get('a')![0], 42);
  });

  it('with bf16, the wire hash is the hash of what a worker decodes', () => {
    const b = make('bf16');
    const p = params(2);
    const e = b.encoded(1, p);
    const received = decode(e.messages);
    assert.equal(e.wireHash, weightsHash(received));
    assert.notEqual(e.wireHash, e.ownHash);
    assert.equal(e.payloadBytes, (15 + 7) * 2);
  });
});
