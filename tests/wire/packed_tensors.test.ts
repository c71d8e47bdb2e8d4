import { test } from 'node:test';
import assert from 'node:assert/strict';
import type * as pb from '../../shared/wire/messages.js';
import { PackedAssembler, packedTensorMessages } from '../../shared/wire/packed_tensors.js';
import { loadWireProtos } from '../../shared/wire/proto_loader.js';
import { type TensorEncoding, type TensorWireErrorCode, TensorAssembler, TensorWireError, encodeTensors } from '../../shared/wire/tensor_codec.js';
import type { HostTensor } from '../../shared/tensor/host_tensor.js';

const session = loadWireProtos().coordinator.definition.Session;

function t(shape: number[], f: (i: number) => number): HostTensor {
  return { shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => f(i)) };
}

function tensors(): Map<string, HostTensor> {
  return new Map([
    ['a', t([4, 300], (i) => Math.sin(i) * 1e-3)],
    ['empty-middle', t([0, 3], () => 0)],
    ['scalé', t([], () => -2.5)],
    ['extremes', t([6], (i) => [Number.MAX_VALUE, -0, 1e-45, -3.4e38, 7, 200_000][i]!)],
    ['big', t([130, 1000], (i) => Math.cos(i))],
    ['empty-end', t([2, 0], () => 0)],
  ]);
}

const layoutOf = (m: ReadonlyMap<string, HostTensor>): { name: string; shape: number[] }[] => [...m].map(([name, v]) => ({ name, shape: [...v.shape] }));

function decode(messages: Iterable<{ bytes: Buffer }>, envelope: 'worker_message' | 'coordinator_message'): pb.PackedTensors[] {
  return [...messages].map((m) => {
    const d = (envelope === 'worker_message' ? session.requestDeserialize(m.bytes) : session.responseDeserialize(m.bytes)) as pb.WorkerMessage | pb.CoordinatorMessage;
    assert.equal(d.kind, 'packed');
    return (d as { packed: pb.PackedTensors }).packed;
  });
}

/** What the per-tensor path delivers for the same tensors (bf16 rounding included). */
function perTensor(m: ReadonlyMap<string, HostTensor>, encoding: TensorEncoding): Map<string, Float32Array> {
  const a = new TensorAssembler();
  for (const c of encodeTensors(m, { encoding, maxChunkBytes: 1 << 20 })) a.push(c);
  return new Map([...a.finish()].map(([k, v]) => [k, v.data]));
}

const code = (c: TensorWireErrorCode) => (e: unknown) => e instanceof TensorWireError && e.code === c;

for (const encoding of ['fp32', 'bf16'] as TensorEncoding[]) {
  for (const maxChunkBytes of [4, 1000, 16_384, 1 << 20]) {
    for (const envelope of ['worker_message', 'coordinator_message'] as const) {
      test(`packed tensors round-trip through ${envelope} (${encoding}, ${maxChunkBytes} bytes per chunk)`, () => {
        const src = tensors();
        const chunks = decode(packedTensorMessages(src, { encoding, maxChunkBytes, envelope }), envelope);
        const total = [...src.values()].reduce((a, v) => a + v.data.length, 0);
        const width = encoding === 'fp32' ? 4 : 2;
        assert.equal(chunks.length, Math.ceil(total / Math.floor(maxChunkBytes / width)));
        const asm = new PackedAssembler(layoutOf(src), { rejectNonFinite: false });
        chunks.forEach((c, i) => {
          assert.equal(asm.complete, false, `not complete before chunk ${i}`);
          asm.push(c);
        });
        assert.equal(asm.complete, true);
        const got = asm.finish();
        assert.deepEqual([...got.keys()], [...src.keys()], 'header order');
        const want = perTensor(src, encoding);
        for (const [k, v] of got) {
          assert.deepEqual(v.shape, [...src.get(k)!.shape]);
          assert.equal(v.encoding, encoding);
          assert.deepEqual(v.data, want.get(k), k);
        }
      });
    }
  }
}

test('a LoRA of many small tensors is one message, not one per tensor', () => {
  // ViT-B q/v at rank 4: 48 tensors of 3072 elements.
  const lora = new Map(Array.from({ length: 48 }, (_, i) => [`t${i}`, t([4, 768], (j) => j + i)] as const));
  assert.equal([...packedTensorMessages(lora, { encoding: 'fp32', maxChunkBytes: 16 << 20, envelope: 'worker_message' })].length, 1);
});

test('no tensors: no chunks and nothing to wait for; only empty tensors: one chunk marked last', () => {
  assert.equal([...packedTensorMessages(new Map(), { encoding: 'fp32', maxChunkBytes: 64, envelope: 'worker_message' })].length, 0);
  assert.equal(new PackedAssembler([]).complete, true);
  const empties = new Map([['e', t([0], () => 0)]]);
  const chunks = decode(packedTensorMessages(empties, { encoding: 'fp32', maxChunkBytes: 64, envelope: 'worker_message' }), 'worker_message');
  assert.equal(chunks.length, 1);
  assert.equal(chunks[0]!.last, true);
  const asm = new PackedAssembler(layoutOf(empties));
  assert.equal(asm.complete, false);
  asm.push(chunks[0]!);
  assert.equal(asm.complete, true);
  assert.equal(asm.finish().get('e')!.data.length, 0);
});

test('decodes into the given arrays', () => {
  const src = tensors();
  const targets = new Map([...src].map(([k, v]) => [k, new Float32Array(v.data.length)]));
  const asm = new PackedAssembler(layoutOf(src), { targets });
  for (const c of decode(packedTensorMessages(src, { encoding: 'fp32', maxChunkBytes: 1000, envelope: 'worker_message' }), 'worker_message')) asm.push(c);
  for (const [k, v] of asm.finish()) {
    assert.equal(v.data, targets.get(k), `${k} decoded in place`);
    assert.deepEqual(v.data, src.get(k)!.data);
  }
});

test('the header is checked against the expected tensors and the budget before any data', () => {
  const expected = new Map<string, readonly number[]>([['x', [2, 3]], ['y', [4]]]);
  assert.throws(() => new PackedAssembler([{ name: 'x', shape: [2, 3] }, { name: 'x', shape: [2, 3] }], { expected }), code('DUPLICATE_TENSOR'));
  assert.throws(() => new PackedAssembler([{ name: 'x', shape: [2, 3] }, { name: 'z', shape: [4] }], { expected }), code('UNEXPECTED_TENSOR'));
  assert.throws(() => new PackedAssembler([{ name: 'x', shape: [3, 2] }, { name: 'y', shape: [4] }], { expected }), code('SHAPE_MISMATCH'));
  assert.throws(() => new PackedAssembler([{ name: 'x', shape: [2, 3] }], { expected }), code('MISSING_TENSOR'));
  assert.throws(() => new PackedAssembler([{ name: 'x', shape: [2, -3] }]), code('BAD_SHAPE'));
  assert.throws(() => new PackedAssembler([{ name: '', shape: [1] }]), code('BAD_NAME'));
  // A hostile header declaring 2^40 elements fails on the budget, not on memory.
  assert.throws(() => new PackedAssembler([{ name: 'h', shape: [2 ** 20, 2 ** 20] }]), code('BUDGET_EXCEEDED'));
  assert.throws(() => new PackedAssembler([{ name: 'x', shape: [2, 3] }, { name: 'y', shape: [4] }], { maxTotalBytes: 39 }), code('BUDGET_EXCEEDED'));
  assert.doesNotThrow(() => new PackedAssembler([{ name: 'y', shape: [4] }, { name: 'x', shape: [2, 3] }], { expected }), 'any order of the expected set');
});

test('every chunk field is checked; the first error closes the assembler', () => {
  const src = new Map([['x', t([2, 3], (i) => i)], ['y', t([4], (i) => -i)]]);
  const layout = layoutOf(src);
  const [c0, c1, c2, c3, c4] = decode(packedTensorMessages(src, { encoding: 'fp32', maxChunkBytes: 8, envelope: 'worker_message' }), 'worker_message');
  assert.ok(c0 && c1 && c2 && c3 && c4);
  const fresh = (): PackedAssembler => new PackedAssembler(layout, { rejectNonFinite: true });
  const expectCode = (c: TensorWireErrorCode, chunks: pb.PackedTensors[], options = {}) => {
    const a = new PackedAssembler(layout, { rejectNonFinite: true, ...options });
    assert.throws(() => chunks.forEach((x) => a.push(x)), code(c), c);
    assert.throws(() => a.push(c0), code('ASSEMBLER_CLOSED'));
  };
  expectCode('UNKNOWN_ENCODING', [{ ...c0, encoding: 'FP64' as pb.PackedTensors['encoding'] }]);
  expectCode('UNKNOWN_ENCODING', [c0], { encoding: 'bf16' });
  expectCode('INCONSISTENT_CHUNK', [c0, { ...c1, encoding: 'BF16', data: c1.data.subarray(0, 4) }]);
  expectCode('BAD_TOTAL', [{ ...c0, total_elements: 11 }]);
  expectCode('OFFSET_OUT_OF_ORDER', [c0, c2]);
  expectCode('OFFSET_OUT_OF_ORDER', [{ ...c0, offset_elements: -2 }]);
  expectCode('OFFSET_OVERLAP', [c0, c1, { ...c2, offset_elements: 3 }]);
  expectCode('BAD_DATA_LENGTH', [{ ...c0, data: c0.data.subarray(0, 6) }]);
  expectCode('BAD_DATA_LENGTH', [{ ...c0, data: new Uint8Array(0) }]);
  expectCode('BEYOND_TOTAL', [c0, c1, c2, c3, { ...c4, data: new Uint8Array(12) }]);
  expectCode('BAD_LAST_FLAG', [{ ...c0, last: true }]);
  expectCode('BAD_LAST_FLAG', [c0, c1, c2, c3, { ...c4, last: false }]);
  expectCode('BEYOND_TOTAL', [c0, c1, c2, c3, c4, { ...c4, offset_elements: 10, data: new Uint8Array(0) }]);
  const ok = fresh();
  for (const c of [c0, c1, c2, c3, c4]) ok.push(c);
  assert.equal(ok.complete, true);
  assert.deepEqual(ok.finish().get('y')!.data, src.get('y')!.data);
  const partial = fresh();
  partial.push(c0);
  assert.throws(() => partial.finish(), code('INCOMPLETE_TENSOR'));
});

test('a non-finite element is found wherever it sits, and named by its tensor and index', () => {
  for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
    for (let at = 0; at < 10; at++) {
      const src = new Map([['x', t([2, 3], (i) => i + 1)], ['y', t([4], (i) => -i - 1)]]);
      const [name, index] = at < 6 ? ['x', at] : ['y', at - 6];
      src.get(name)!.data[index] = bad;
      // Chunks of 3 elements straddle the boundary between x and y.
      const chunks = decode(packedTensorMessages(src, { encoding: 'fp32', maxChunkBytes: 12, envelope: 'worker_message' }), 'worker_message');
      const a = new PackedAssembler(layoutOf(src), { rejectNonFinite: true });
      assert.throws(() => chunks.forEach((c) => a.push(c)), (e: unknown) => e instanceof TensorWireError && e.code === 'NON_FINITE' && e.tensor === name && e.message.includes(`element ${index} `), `${bad} at ${at}`);
      const lenient = new PackedAssembler(layoutOf(src));
      chunks.forEach((c) => lenient.push(c));
      assert.ok(lenient.complete);
    }
  }
});
