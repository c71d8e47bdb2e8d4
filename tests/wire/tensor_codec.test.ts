import { test } from 'node:test';
import assert from 'node:assert/strict';
import { float32ToBfloat16Bits, bfloat16BitsToFloat32 } from '../../shared/tensor/dtype_codec.js';
import {
  type AssemblerOptions,
  encodeTensors,
  iterateTensorChunks,
  TensorAssembler,
  TensorWireError,
  type TensorWireErrorCode,
  tensorInfos,
} from '../../shared/wire/tensor_codec.js';
import type { TensorChunk } from '../../shared/wire/messages.js';
import { MAX_TENSOR_NAME_BYTES } from '../../shared/wire/limits.js';
import type { HostTensor } from '../../shared/tensor/host_tensor.js';

/** Deterministic xorshift PRNG in [0, 1). */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}

function randomTensor(shape: number[], seed: number, scale = 1): HostTensor {
  const r = rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = (r() * 2 - 1) * scale;
  return { shape, data };
}

function bits(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer, a.byteOffset, a.length);
}

function assemble(chunks: Iterable<TensorChunk>, options?: AssemblerOptions): Map<string, { shape: number[]; data: Float32Array }> {
  const asm = new TensorAssembler(options);
  for (const c of chunks) asm.push(c);
  return asm.finish();
}

function sampleSet(): Map<string, HostTensor> {
  const special = new Float32Array([0, -0, 1, -1, 1e-42 /* subnormal */, 3.4e38, -Infinity, Infinity, Number.NaN, 0.1]);
  return new Map<string, HostTensor>([
    ['scalar', { shape: [], data: new Float32Array([1.5]) }],
    ['empty', { shape: [0, 5], data: new Float32Array(0) }],
    ['small', randomTensor([3, 7], 1)],
    ['special', { shape: [10], data: special }],
    ['big', randomTensor([1000, 300], 2, 10)],
    ['empty2', { shape: [0], data: new Float32Array(0) }],
    ['odd', randomTensor([1, 1, 1001], 3)],
  ]);
}

test('fp32 round trips bit-exactly at several chunk sizes, including tensors larger than a chunk and empty ones', () => {
  const tensors = sampleSet();
  for (const maxChunkBytes of [4, 12, 1000, 4096, 65536, 1 << 20, 64 << 20]) {
    const chunks = encodeTensors(tensors, { encoding: 'fp32', maxChunkBytes });
    for (const c of chunks) assert.ok(c.data.length <= maxChunkBytes, `chunk of ${c.data.length} bytes > ${maxChunkBytes}`);
    const big = chunks.filter((c) => c.name === 'big');
    assert.equal(big.length, Math.ceil((300000 * 4) / (Math.floor(maxChunkBytes / 4) * 4)));
    const empties = chunks.filter((c) => c.name === 'empty');
    assert.deepEqual(empties.map((c) => [c.data.length, c.last, c.total_elements]), [[0, true, 0]]);
    const back = assemble(chunks);
    assert.deepEqual([...back.keys()], [...tensors.keys()]);
    for (const [name, t] of tensors) {
      const got = back.get(name);
      assert.ok(got !== undefined);
      assert.deepEqual(got.shape, [...t.shape]);
      assert.deepEqual(bits(got.data), bits(t.data), `${name} at ${maxChunkBytes}`);
    }
  }
});

test('fp32 chunks are copies: changing the source afterwards does not change them', () => {
  const t = { shape: [4], data: new Float32Array([1, 2, 3, 4]) };
  const chunks = encodeTensors(new Map([['t', t]]), { encoding: 'fp32', maxChunkBytes: 64 });
  t.data[0] = 99;
  assert.deepEqual([...assemble(chunks).get('t')!.data], [1, 2, 3, 4]);
});

test('bf16 round trips to exactly the round-to-nearest-even values at several chunk sizes', () => {
  const tensors = sampleSet();
  for (const maxChunkBytes of [2, 6, 1000, 1 << 20]) {
    const chunks = encodeTensors(tensors, { encoding: 'bf16', maxChunkBytes });
    for (const c of chunks) {
      assert.ok(c.data.length <= maxChunkBytes);
      assert.equal(c.encoding, 'BF16');
    }
    const back = assemble(chunks);
    for (const [name, t] of tensors) {
      const got = back.get(name)!;
      assert.equal(got.data.length, t.data.length);
      for (let i = 0; i < t.data.length; i++) {
        const want = bfloat16BitsToFloat32(float32ToBfloat16Bits(t.data[i]));
        if (Number.isNaN(want)) assert.ok(Number.isNaN(got.data[i]), `${name}[${i}]`);
        else assert.equal(got.data[i], want, `${name}[${i}]`);
      }
    }
  }
});

test('bf16 rounds ties to even', () => {
  const x = new Float32Array([1 + 2 ** -8, 1 + 3 * 2 ** -8, -(1 + 2 ** -8), 1 + 2 ** -8 + 2 ** -20]);
  const back = assemble(encodeTensors(new Map([['t', { shape: [4], data: x }]]), { encoding: 'bf16', maxChunkBytes: 1024 })).get('t')!;
  assert.deepEqual([...back.data], [1, 1 + 2 ** -6, -1, 1 + 2 ** -7]);
});

test('bf16 relative error is at most 2^-8 for normal values of many magnitudes', () => {
  for (const scale of [1e-30, 1e-6, 1e-3, 1, 1e3, 1e6, 1e30]) {
    const t = randomTensor([20000], Math.round(Math.log10(scale) + 100), scale);
    const back = assemble(encodeTensors(new Map([['t', t]]), { encoding: 'bf16', maxChunkBytes: 8192 })).get('t')!;
    let worst = 0;
    for (let i = 0; i < t.data.length; i++) {
      const x = t.data[i];
      if (x === 0) continue;
      worst = Math.max(worst, Math.abs(back.data[i] - x) / Math.abs(x));
    }
    assert.ok(worst <= 2 ** -8, `scale ${scale}: worst relative error ${worst}`);
    assert.ok(worst > 2 ** -11, `scale ${scale}: suspiciously exact (${worst}), is it really bf16?`);
  }
});

test('tensorInfos lists the names and shapes in sending order; chunks come lazily', () => {
  const tensors = sampleSet();
  assert.deepEqual(tensorInfos(tensors).map((i) => i.name), [...tensors.keys()]);
  const it = iterateTensorChunks(tensors, { encoding: 'fp32', maxChunkBytes: 16 });
  assert.equal(it.next().value?.name, 'scalar');
});

// ---------------------------------------------------------------------------------------------
// Rejections

function expectCode(code: TensorWireErrorCode, f: () => unknown): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof TensorWireError, `expected TensorWireError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    assert.ok(e.message.length > 10);
    return true;
  });
}

/** Chunks of one 10-element fp32 tensor "t" [2, 5], 4 elements per chunk: offsets 0, 4, 8. */
function tChunks(): TensorChunk[] {
  const data = Float32Array.from({ length: 10 }, (_, i) => i + 0.5);
  return encodeTensors(new Map([['t', { shape: [2, 5], data }]]), { encoding: 'fp32', maxChunkBytes: 16 });
}

function pushAll(chunks: TensorChunk[], options?: AssemblerOptions): TensorAssembler {
  const asm = new TensorAssembler(options);
  for (const c of chunks) asm.push(c);
  return asm;
}

test('rejects unknown encodings (unknown numbers, other names, or not the agreed one)', () => {
  const [c0] = tChunks();
  expectCode('UNKNOWN_ENCODING', () => pushAll([{ ...c0, encoding: 7 }]));
  expectCode('UNKNOWN_ENCODING', () => pushAll([{ ...c0, encoding: 'FP16' as unknown as 'FP32' }]));
  expectCode('UNKNOWN_ENCODING', () => pushAll([c0], { encoding: 'bf16' }));
});

test('rejects bad names, unexpected names and shapes that differ from the expected ones', () => {
  const [c0] = tChunks();
  expectCode('BAD_NAME', () => pushAll([{ ...c0, name: '' }]));
  expectCode('BAD_NAME', () => pushAll([{ ...c0, name: 'x'.repeat(MAX_TENSOR_NAME_BYTES + 1) }]));
  expectCode('UNEXPECTED_TENSOR', () => pushAll([c0], { expected: new Map([['other', [2, 5]]]) }));
  expectCode('SHAPE_MISMATCH', () => pushAll([{ ...c0, shape: [5, 2] }], { expected: new Map([['t', [2, 5]]]) }));
  // The expected set accepts the right tensor.
  assert.equal(pushAll(tChunks(), { expected: new Map([['t', [2, 5]]]) }).finish().size, 1);
});

test('rejects shapes that do not match total_elements, invalid dims and invalid totals', () => {
  const [c0] = tChunks();
  expectCode('BAD_SHAPE', () => pushAll([{ ...c0, shape: [2, 6] }]));
  expectCode('BAD_SHAPE', () => pushAll([{ ...c0, shape: [-2, -5] }]));
  expectCode('BAD_SHAPE', () => pushAll([{ ...c0, shape: [1.5, 5] }]));
  expectCode('BAD_SHAPE', () => pushAll([{ ...c0, shape: [1, 1, 1, 1, 1, 1, 1, 2, 5] }]));
  expectCode('BAD_TOTAL', () => pushAll([{ ...c0, total_elements: -1 }]));
  expectCode('BAD_TOTAL', () => pushAll([{ ...c0, total_elements: 2 ** 60 }]));
});

test('rejects chunks that change the tensor mid-way', () => {
  const [c0, c1] = tChunks();
  expectCode('INCONSISTENT_CHUNK', () => pushAll([c0, { ...c1, shape: [10] }]));
  expectCode('INCONSISTENT_CHUNK', () => pushAll([c0, { ...c1, total_elements: 12 }]));
  expectCode('INCONSISTENT_CHUNK', () => pushAll([c0, { ...c1, encoding: 'BF16' }]));
});

test('rejects offsets out of order or overlapping', () => {
  const [c0, c1, c2] = tChunks();
  expectCode('OFFSET_OUT_OF_ORDER', () => pushAll([c1]));
  expectCode('OFFSET_OUT_OF_ORDER', () => pushAll([c0, c2]));
  expectCode('OFFSET_OVERLAP', () => pushAll([c0, c0]));
  expectCode('OFFSET_OVERLAP', () => pushAll([c0, { ...c1, offset_elements: 3 }]));
  expectCode('OFFSET_OUT_OF_ORDER', () => pushAll([{ ...c0, offset_elements: -4 }]));
});

test('rejects data lengths that are not whole elements, empty non-final chunks and data beyond the total', () => {
  const [c0, c1, c2] = tChunks();
  expectCode('BAD_DATA_LENGTH', () => pushAll([{ ...c0, data: c0.data.subarray(0, 15) }]));
  expectCode('BAD_DATA_LENGTH', () => pushAll([c0, { ...c1, data: new Uint8Array(0) }]));
  expectCode('BEYOND_TOTAL', () => pushAll([c0, c1, { ...c2, data: new Uint8Array(12) }]));
  expectCode('BEYOND_TOTAL', () => pushAll([c0, c1, { ...c2, data: new Uint8Array(16) }]));
  // A chunk after the tensor completed starts a new (duplicate) tensor.
  expectCode('DUPLICATE_TENSOR', () => pushAll([c0, c1, c2, { ...c2, offset_elements: 10, data: new Uint8Array(4) }]));
});

test('rejects a wrong last flag', () => {
  const [c0, c1, c2] = tChunks();
  expectCode('BAD_LAST_FLAG', () => pushAll([{ ...c0, last: true }]));
  expectCode('BAD_LAST_FLAG', () => pushAll([c0, c1, { ...c2, last: false }]));
});

test('rejects NaN and infinities when asked to, accepts them otherwise', () => {
  for (const bad of [Number.NaN, Infinity, -Infinity]) {
    for (const encoding of ['fp32', 'bf16'] as const) {
      const data = new Float32Array([1, 2, bad, 4]);
      const chunks = encodeTensors(new Map([['t', { shape: [4], data }]]), { encoding, maxChunkBytes: 64 });
      expectCode('NON_FINITE', () => pushAll(chunks, { rejectNonFinite: true }));
      assert.equal(pushAll(chunks).finish().size, 1);
    }
  }
});

test('rejects tensors over the byte budget before allocating them', () => {
  const chunks = tChunks();
  expectCode('BUDGET_EXCEEDED', () => pushAll(chunks, { maxTotalBytes: 39 }));
  assert.equal(pushAll(chunks, { maxTotalBytes: 40 }).finish().size, 1);
  // A hostile header declaring 2^40 elements fails on the budget, not on memory.
  expectCode('BUDGET_EXCEEDED', () => pushAll([{ ...chunks[0], shape: [2 ** 20, 2 ** 20], total_elements: 2 ** 40 }]));
  // With an expected set the default budget is its exact size: a second tensor does not fit.
  const two = new Map([['a', { shape: [2], data: new Float32Array(2) }], ['b', { shape: [3], data: new Float32Array(3) }]]);
  const both = encodeTensors(two, { encoding: 'fp32', maxChunkBytes: 64 });
  expectCode('BUDGET_EXCEEDED', () => pushAll([...both.slice(0, 1), { ...both[0], name: 'c' }], { expected: new Map([['a', [2]], ['c', [2]]]), maxTotalBytes: 8 }));
  assert.equal(pushAll(both, { expected: new Map([['a', [2]], ['b', [3]]]) }).finish().size, 2);
});

test('rejects interleaved and duplicate tensors', () => {
  const [c0, c1, c2] = tChunks();
  const other = encodeTensors(new Map([['u', { shape: [1], data: new Float32Array([1]) }]]), { encoding: 'fp32', maxChunkBytes: 16 });
  expectCode('INTERLEAVED', () => pushAll([c0, ...other]));
  expectCode('DUPLICATE_TENSOR', () => pushAll([c0, c1, c2, c0]));
});

test('finish() rejects an incomplete tensor and missing expected tensors', () => {
  const [c0, c1] = tChunks();
  expectCode('INCOMPLETE_TENSOR', () => pushAll([c0, c1]).finish());
  expectCode('MISSING_TENSOR', () => pushAll(tChunks(), { expected: new Map([['t', [2, 5]], ['u', [1]]]) }).finish());
  assert.equal(pushAll(tChunks(), { expected: new Map([['t', [2, 5]], ['u', [1]]]), requireAll: false }).finish().size, 1);
});

test('push returns each completed tensor; after an error the assembler stays closed', () => {
  const chunks = tChunks();
  const asm = new TensorAssembler();
  assert.equal(asm.push(chunks[0]), undefined);
  assert.equal(asm.inProgress, 't');
  assert.equal(asm.push(chunks[1]), undefined);
  const t = asm.push(chunks[2]);
  assert.ok(t !== undefined);
  assert.deepEqual([...t.data], Array.from({ length: 10 }, (_, i) => i + 0.5));
  assert.equal(asm.inProgress, undefined);
  assert.equal(asm.bytesAccepted, 40);

  const broken = new TensorAssembler();
  expectCode('OFFSET_OUT_OF_ORDER', () => broken.push(chunks[1]));
  expectCode('ASSEMBLER_CLOSED', () => broken.push(chunks[0]));
  expectCode('ASSEMBLER_CLOSED', () => broken.finish());
});

test('the encoder refuses inconsistent input', () => {
  expectCode('INVALID_INPUT', () => encodeTensors(new Map([['t', { shape: [2, 2], data: new Float32Array(3) }]]), { encoding: 'fp32', maxChunkBytes: 16 }));
  expectCode('INVALID_INPUT', () => encodeTensors(new Map([['t', { shape: [1], data: new Float32Array(1) }]]), { encoding: 'fp32', maxChunkBytes: 3 }));
  expectCode('INVALID_INPUT', () => encodeTensors(new Map([['t', { shape: [-1], data: new Float32Array(0) }]]), { encoding: 'bf16', maxChunkBytes: 16 }));
  expectCode('BAD_NAME', () => encodeTensors(new Map([['', { shape: [1], data: new Float32Array(1) }]]), { encoding: 'bf16', maxChunkBytes: 16 }));
});

test('the non-finite check finds a bad element at any position, in short and odd-length chunks', () => {
  for (const n of [1, 2, 3, 5, 8]) {
    for (let at = 0; at < n; at++) {
      for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
        const data = Float32Array.from({ length: n }, (_, i) => i + 0.5);
        data[at] = bad;
        // Several chunks: the bad element can sit anywhere within its chunk.
        const chunks = encodeTensors(new Map([['t', { shape: [n], data }]]), { encoding: 'fp32', maxChunkBytes: 12 });
        assert.throws(() => pushAll(chunks, { rejectNonFinite: true }), (e: unknown) => e instanceof TensorWireError && e.code === 'NON_FINITE' && e.message.includes(`element ${at} `), `n=${n} at=${at} ${bad}`);
      }
    }
    const fine = encodeTensors(new Map([['t', { shape: [n], data: Float32Array.from({ length: n }, (_, i) => (i % 2 ? -3.4e38 : 3.4e38)) }]]), { encoding: 'fp32', maxChunkBytes: 12 });
    assert.equal(pushAll(fine, { rejectNonFinite: true }).finish().size, 1);
  }
});
