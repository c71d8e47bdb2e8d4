// Tensors on the wire, one TensorChunk sequence per tensor (fp32 or bf16, little-endian, each
// chunk's data at most maxChunkBytes), and TensorAssembler, which rebuilds the tensors from chunks
// received from a peer that must be assumed hostile: every field is checked before it is used and
// no memory is allocated beyond the declared (and budgeted) tensor sizes. This build sends the
// packed form (packed_tensors.ts, which shares the checks and element codecs here); receivers still
// accept this per-tensor form, which the protocol allows, so its encoder stays as the reference
// the receiving side is tested with.

import { bfloat16ArrayToFloat32, bfloat16BitsToFloat32, float32ArrayToBfloat16, float32ToBfloat16Bits, HOST_LITTLE_ENDIAN } from '../tensor/dtype_codec.js';
import type { HostTensor } from '../tensor/host_tensor.js';
import { MAX_TENSOR_NAME_BYTES, MAX_TENSOR_RANK, MiB } from './limits.js';
import type { Encoding, TensorChunk, TensorInfo } from './messages.js';
import { errorMessage } from '../errors/error_message.js';

/** Element encoding chosen by the sender. */
export type TensorEncoding = 'fp32' | 'bf16';

const WIRE_ENCODING: Record<TensorEncoding, Encoding> = { fp32: 'FP32', bf16: 'BF16' };
const ELEMENT_BYTES: Record<TensorEncoding, number> = { fp32: 4, bf16: 2 };

export function toWireEncoding(e: TensorEncoding): Encoding {
  return WIRE_ENCODING[e];
}

/** The wire enum -> codec encoding; undefined for anything else (unknown number or name). */
export function fromWireEncoding(e: unknown): TensorEncoding | undefined {
  if (e === 'FP32') return 'fp32';
  if (e === 'BF16') return 'bf16';
  return undefined;
}

export function elementBytes(e: TensorEncoding): number {
  return ELEMENT_BYTES[e];
}

export type TensorWireErrorCode =
  /** The sender's own input is inconsistent (encodeTensors). */
  | 'INVALID_INPUT'
  /** `encoding` is not a known Encoding value. */
  | 'UNKNOWN_ENCODING'
  /** Name empty, too long. */
  | 'BAD_NAME'
  /** Name not in the expected set. */
  | 'UNEXPECTED_TENSOR'
  /** Shape differs from the expected shape for the name. */
  | 'SHAPE_MISMATCH'
  /** Shape invalid (negative / non-integer dims, rank too high) or its product is not total_elements. */
  | 'BAD_SHAPE'
  /** total_elements invalid. */
  | 'BAD_TOTAL'
  /** A later chunk changes name, shape, encoding or total of the tensor in progress. */
  | 'INCONSISTENT_CHUNK'
  /** Offset past the elements received so far (a gap / reordering). */
  | 'OFFSET_OUT_OF_ORDER'
  /** Offset before the elements received so far (re-sends elements). */
  | 'OFFSET_OVERLAP'
  /** data is not a whole number of elements, or is empty in a chunk that is not the last. */
  | 'BAD_DATA_LENGTH'
  /** The chunk's elements reach past total_elements. */
  | 'BEYOND_TOTAL'
  /** `last` set before total_elements, or not set on the chunk that completes the tensor. */
  | 'BAD_LAST_FLAG'
  /** A NaN or infinite element (when rejectNonFinite). */
  | 'NON_FINITE'
  /** Accepting the tensor would exceed the byte budget. */
  | 'BUDGET_EXCEEDED'
  /** A chunk of another tensor arrived before the tensor in progress was complete. */
  | 'INTERLEAVED'
  /** A tensor of this name was already received. */
  | 'DUPLICATE_TENSOR'
  /** finish(): a tensor was left incomplete. */
  | 'INCOMPLETE_TENSOR'
  /** finish(): an expected tensor never arrived. */
  | 'MISSING_TENSOR'
  /** The assembler already failed or finished. */
  | 'ASSEMBLER_CLOSED';

/** A tensor codec failure: `code` says which check failed, `tensor` names the tensor (when known). */
export class TensorWireError extends Error {
  constructor(
    readonly code: TensorWireErrorCode,
    message: string,
    readonly tensor?: string,
  ) {
    super(tensor === undefined ? message : `tensor ${JSON.stringify(tensor)}: ${message}`);
    this.name = 'TensorWireError';
  }
}

/** The name, checked (non-empty, at most MAX_TENSOR_NAME_BYTES); throws BAD_NAME. */
export function checkName(name: unknown): string {
  if (typeof name !== 'string' || name.length === 0) throw new TensorWireError('BAD_NAME', 'empty tensor name');
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes > MAX_TENSOR_NAME_BYTES) {
    throw new TensorWireError('BAD_NAME', `name is ${bytes} bytes, more than ${MAX_TENSOR_NAME_BYTES}`, name.slice(0, 64));
  }
  return name;
}

/** Number of elements of `shape`, or a message saying why the shape is invalid. */
export function shapeElements(shape: readonly unknown[]): number | string {
  if (shape.length > MAX_TENSOR_RANK) return `rank ${shape.length} exceeds ${MAX_TENSOR_RANK}`;
  let n = 1;
  for (const d of shape) {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) return `invalid dimension ${String(d)} in shape [${shape.join(', ')}]`;
    n *= d;
    if (!Number.isSafeInteger(n)) return `shape [${shape.join(', ')}] has too many elements`;
  }
  return n;
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export interface EncodeOptions {
  encoding: TensorEncoding;
  /** Largest data payload per chunk (see limits.chunkBytesFor); at least one element. */
  maxChunkBytes: number;
}

/** Header entries (name + shape) for a set of tensors, in the order their chunks are sent. */
export function tensorInfos(tensors: ReadonlyMap<string, HostTensor>): TensorInfo[] {
  return [...tensors].map(([name, t]) => ({ name, shape: [...t.shape] }));
}

function encodeRange(data: Float32Array, start: number, count: number, encoding: TensorEncoding): Buffer {
  if (encoding === 'fp32') {
    // A copy (the chunk must not change if the caller reuses its array), little-endian.
    const out = Buffer.from(new Uint8Array(data.buffer, data.byteOffset + start * 4, count * 4));
    if (!HOST_LITTLE_ENDIAN) out.swap32();
    return out;
  }
  const out = Buffer.allocUnsafe(count * 2);
  // allocUnsafe buffers of this size are their own, 8-byte aligned ArrayBuffers (not the shared pool
  // for small ones), so a Uint16Array view over them is safe; small ones fall back to the per-value path.
  if (out.byteOffset % 2 === 0 && HOST_LITTLE_ENDIAN) {
    float32ArrayToBfloat16(data.subarray(start, start + count), new Uint16Array(out.buffer, out.byteOffset, count));
  } else {
    for (let i = 0; i < count; i++) out.writeUInt16LE(float32ToBfloat16Bits(data[start + i]!), i * 2);
  }
  return out;
}

/**
 * Checks that every tensor can be sent and reassembled (name, shape, data length) and returns how
 * many elements one chunk carries. Throws TensorWireError('INVALID_INPUT' / 'BAD_NAME').
 */
export function elementsPerChunk(tensors: ReadonlyMap<string, HostTensor>, options: EncodeOptions): number {
  const { encoding, maxChunkBytes } = options;
  const width = ELEMENT_BYTES[encoding];
  if (width === undefined) throw new TensorWireError('INVALID_INPUT', `unknown encoding ${String(encoding)}`);
  if (!Number.isSafeInteger(maxChunkBytes) || maxChunkBytes < width) {
    throw new TensorWireError('INVALID_INPUT', `maxChunkBytes must be an integer of at least ${width}, got ${maxChunkBytes}`);
  }
  for (const [name, t] of tensors) {
    checkName(name);
    const n = shapeElements(t.shape);
    if (typeof n === 'string') throw new TensorWireError('INVALID_INPUT', n, name);
    if (n !== t.data.length) {
      throw new TensorWireError('INVALID_INPUT', `shape [${t.shape.join(', ')}] has ${n} elements but data has ${t.data.length}`, name);
    }
  }
  return Math.floor(maxChunkBytes / width);
}

/**
 * Chunks of the given tensors, one tensor after the other, lazily (so a large set needs no more
 * than one chunk in memory at a time). Chunk data is copied: the caller may reuse its arrays.
 * Throws TensorWireError('INVALID_INPUT' / 'BAD_NAME') for a tensor that could not be reassembled.
 */
export function* iterateTensorChunks(
  tensors: ReadonlyMap<string, HostTensor>,
  options: EncodeOptions,
): Generator<TensorChunk, void, undefined> {
  const { encoding } = options;
  const perChunk = elementsPerChunk(tensors, options);
  const wire = WIRE_ENCODING[encoding];
  for (const [name, t] of tensors) {
    const total = t.data.length;
    const shape = [...t.shape];
    let offset = 0;
    do {
      const count = Math.min(perChunk, total - offset);
      yield {
        name,
        shape,
        encoding: wire,
        offset_elements: offset,
        total_elements: total,
        data: encodeRange(t.data, offset, count, encoding),
        last: offset + count === total,
      };
      offset += count;
    } while (offset < total);
  }
}

/** All chunks of the given tensors (see iterateTensorChunks). */
export function encodeTensors(tensors: ReadonlyMap<string, HostTensor>, options: EncodeOptions): TensorChunk[] {
  return [...iterateTensorChunks(tensors, options)];
}

// ---------------------------------------------------------------------------------------------
// Reassembly

export interface AssembledTensor {
  name: string;
  shape: number[];
  data: Float32Array;
  /** How it travelled (bf16 data was rounded by the sender). */
  encoding: TensorEncoding;
}

/** Bytes a tensor takes once assembled (float32). */
function assembledBytes(elements: number): number {
  return elements * 4;
}

/** Default byte budget when no expected set is given. */
export const DEFAULT_ASSEMBLER_BUDGET_BYTES = 256 * MiB;

export interface AssemblerOptions {
  /**
   * Allow-list: the only names accepted, each with its exact shape. When given, unknown names are
   * UNEXPECTED_TENSOR, other shapes SHAPE_MISMATCH, and finish() requires all of them (unless
   * requireAll is false).
   */
  expected?: ReadonlyMap<string, readonly number[]>;
  /** finish() fails with MISSING_TENSOR unless every expected tensor arrived (default true). */
  requireAll?: boolean;
  /**
   * Most bytes of float32 tensor data accepted in all (checked against each tensor's declared size
   * before anything is allocated). Default: the total size of `expected` when given, else
   * DEFAULT_ASSEMBLER_BUDGET_BYTES.
   */
  maxTotalBytes?: number;
  /** Reject NaN and ±Infinity elements with NON_FINITE (default false). */
  rejectNonFinite?: boolean;
  /** Accept only this encoding (default: either). */
  encoding?: TensorEncoding;
  /**
   * Arrays to decode into, by name (reused from one message sequence to the next, so a worker's
   * gradients each step allocate nothing). A tensor without a target of its size gets a new array.
   */
  targets?: ReadonlyMap<string, Float32Array>;
}

interface Pending {
  name: string;
  shape: number[];
  encoding: TensorEncoding;
  total: number;
  received: number;
  data: Float32Array;
}

/**
 * Rebuilds tensors from TensorChunk messages received in order. Chunks of one tensor must be
 * contiguous (a chunk of another tensor before the current one is complete is INTERLEAVED).
 * push() returns the tensor a chunk completes; finish() checks that nothing is missing and returns
 * all of them. The first error closes the assembler: later calls throw ASSEMBLER_CLOSED.
 */
export class TensorAssembler {
  private readonly expected: ReadonlyMap<string, readonly number[]> | undefined;
  private readonly requireAll: boolean;
  private readonly budget: number;
  private readonly rejectNonFinite: boolean;
  private readonly onlyEncoding: TensorEncoding | undefined;
  private readonly targets: ReadonlyMap<string, Float32Array> | undefined;
  private readonly done = new Map<string, AssembledTensor>();
  private pending: Pending | undefined;
  private used = 0;
  private closed: string | undefined;

  constructor(options: AssemblerOptions = {}) {
    this.expected = options.expected;
    this.requireAll = options.requireAll ?? true;
    this.rejectNonFinite = options.rejectNonFinite ?? false;
    this.onlyEncoding = options.encoding;
    this.targets = options.targets;
    let budget = options.maxTotalBytes;
    if (budget === undefined) {
      if (this.expected !== undefined) {
        budget = 0;
        for (const [name, shape] of this.expected) {
          const n = shapeElements(shape);
          if (typeof n === 'string') throw new TensorWireError('INVALID_INPUT', `expected shape: ${n}`, name);
          budget += assembledBytes(n);
        }
      } else {
        budget = DEFAULT_ASSEMBLER_BUDGET_BYTES;
      }
    }
    if (!Number.isSafeInteger(budget) || budget < 0) throw new TensorWireError('INVALID_INPUT', `invalid maxTotalBytes ${budget}`);
    this.budget = budget;
  }

  /** Name of the tensor whose chunks are arriving, if one is incomplete. */
  get inProgress(): string | undefined {
    return this.pending?.name;
  }

  /** Bytes of tensor data accepted so far (counting the tensor in progress at its full size). */
  get bytesAccepted(): number {
    return this.used;
  }

  /** Tensors completed so far. */
  get completed(): ReadonlyMap<string, AssembledTensor> {
    return this.done;
  }

  /** Accepts the next chunk; returns the tensor it completes, if any. Throws TensorWireError. */
  push(chunk: TensorChunk): AssembledTensor | undefined {
    if (this.closed !== undefined) throw new TensorWireError('ASSEMBLER_CLOSED', `assembler is closed (${this.closed})`);
    try {
      return this.accept(chunk);
    } catch (e) {
      this.closed = errorMessage(e);
      throw e;
    }
  }

  /**
   * Ends the sequence: throws INCOMPLETE_TENSOR if a tensor is partial and MISSING_TENSOR if an
   * expected tensor never came (when requireAll); returns all tensors in arrival order.
   */
  finish(): Map<string, AssembledTensor> {
    if (this.closed !== undefined) throw new TensorWireError('ASSEMBLER_CLOSED', `assembler is closed (${this.closed})`);
    this.closed = 'finished';
    const p = this.pending;
    if (p !== undefined) {
      throw new TensorWireError('INCOMPLETE_TENSOR', `only ${p.received} of ${p.total} elements arrived`, p.name);
    }
    if (this.expected !== undefined && this.requireAll) {
      const missing = [...this.expected.keys()].filter((n) => !this.done.has(n));
      if (missing.length > 0) {
        throw new TensorWireError('MISSING_TENSOR', `${missing.length} expected tensor(s) never arrived: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', ...' : ''}`);
      }
    }
    return new Map(this.done);
  }

  private accept(chunk: TensorChunk): AssembledTensor | undefined {
    const name = checkName(chunk.name);
    const encoding = fromWireEncoding(chunk.encoding);
    if (encoding === undefined) throw new TensorWireError('UNKNOWN_ENCODING', `unknown encoding ${JSON.stringify(chunk.encoding)}`, name);
    if (this.onlyEncoding !== undefined && encoding !== this.onlyEncoding) {
      throw new TensorWireError('UNKNOWN_ENCODING', `encoding ${encoding} where ${this.onlyEncoding} was agreed`, name);
    }
    const shape = chunk.shape;
    const total = chunk.total_elements;
    const offset = chunk.offset_elements;
    if (!Array.isArray(shape)) throw new TensorWireError('BAD_SHAPE', 'shape is not a list', name);
    if (!Number.isSafeInteger(total) || total < 0) throw new TensorWireError('BAD_TOTAL', `invalid total_elements ${total}`, name);
    if (!Number.isSafeInteger(offset) || offset < 0) throw new TensorWireError('OFFSET_OUT_OF_ORDER', `invalid offset_elements ${offset}`, name);
    const data = chunk.data;
    if (!(data instanceof Uint8Array)) throw new TensorWireError('BAD_DATA_LENGTH', 'data is not bytes', name);

    let p = this.pending;
    if (p !== undefined && p.name !== name) {
      throw new TensorWireError('INTERLEAVED', `chunk of ${JSON.stringify(name)} while ${JSON.stringify(p.name)} has ${p.received} of ${p.total} elements`, name);
    }
    if (p === undefined) {
      p = this.begin(name, shape, total, encoding);
    } else if (!sameShape(p.shape, shape) || p.total !== total || p.encoding !== encoding) {
      throw new TensorWireError(
        'INCONSISTENT_CHUNK',
        `chunk says shape [${shape.join(', ')}], ${total} elements, ${encoding}; the tensor began as [${p.shape.join(', ')}], ${p.total}, ${p.encoding}`,
        name,
      );
    }

    if (offset > p.received) throw new TensorWireError('OFFSET_OUT_OF_ORDER', `offset ${offset} but ${p.received} elements received so far (a gap)`, name);
    if (offset < p.received) throw new TensorWireError('OFFSET_OVERLAP', `offset ${offset} overlaps the ${p.received} elements already received`, name);
    const width = ELEMENT_BYTES[encoding];
    if (data.length % width !== 0) {
      throw new TensorWireError('BAD_DATA_LENGTH', `${data.length} data bytes is not a whole number of ${encoding} elements`, name);
    }
    const count = data.length / width;
    if (count > p.total - offset) {
      throw new TensorWireError('BEYOND_TOTAL', `chunk at ${offset} carries ${count} elements, past total ${p.total}`, name);
    }
    const end = offset + count;
    if (chunk.last !== (end === p.total)) {
      throw new TensorWireError(
        'BAD_LAST_FLAG',
        chunk.last ? `last chunk ends at ${end} of ${p.total} elements` : `chunk completes the tensor (${end} elements) but is not marked last`,
        name,
      );
    }
    if (count === 0 && !chunk.last) throw new TensorWireError('BAD_DATA_LENGTH', 'empty chunk that is not the last', name);

    decodeInto(p.data, offset, data, encoding);
    if (this.rejectNonFinite) {
      const bad = firstNonFinite(p.data, offset, end);
      if (bad >= 0) throw new TensorWireError('NON_FINITE', `element ${bad} is ${p.data[bad]}`, name);
    }
    p.received = end;
    if (end < p.total) return undefined;
    this.pending = undefined;
    const t: AssembledTensor = { name, shape: p.shape, data: p.data, encoding };
    this.done.set(name, t);
    return t;
  }

  private begin(name: string, shape: readonly unknown[], total: number, encoding: TensorEncoding): Pending {
    if (this.done.has(name)) throw new TensorWireError('DUPLICATE_TENSOR', 'tensor received twice', name);
    let expectedShape: readonly number[] | undefined;
    if (this.expected !== undefined) {
      expectedShape = this.expected.get(name);
      if (expectedShape === undefined) throw new TensorWireError('UNEXPECTED_TENSOR', 'not one of the expected tensors', name);
    }
    const n = shapeElements(shape);
    if (typeof n === 'string') throw new TensorWireError('BAD_SHAPE', n, name);
    const dims = shape as number[];
    if (expectedShape !== undefined && !sameShape(expectedShape, dims)) {
      throw new TensorWireError('SHAPE_MISMATCH', `shape [${dims.join(', ')}], expected [${expectedShape.join(', ')}]`, name);
    }
    if (n !== total) throw new TensorWireError('BAD_SHAPE', `shape [${dims.join(', ')}] has ${n} elements but total_elements is ${total}`, name);
    const bytes = assembledBytes(total);
    if (this.used + bytes > this.budget) {
      throw new TensorWireError('BUDGET_EXCEEDED', `${bytes} bytes would bring the total to ${this.used + bytes}, over the budget of ${this.budget}`, name);
    }
    this.used += bytes;
    const target = this.targets?.get(name);
    const p: Pending = { name, shape: [...dims], encoding, total, received: 0, data: target?.length === total ? target : new Float32Array(total) };
    this.pending = p;
    return p;
  }
}

/** Index of the first NaN or infinite element of a[start, end), or -1. */
/** Index of the first NaN or infinite element of a[start, end), or -1. */
export function firstNonFinite(a: Float32Array, start: number, end: number): number {
  // Every chunk of every gradient passes here, so the common case (all finite) is a branch-free
  // pass: v * 0 is 0 for finite v and NaN otherwise. Only a failing range is searched.
  let z0 = 0;
  let z1 = 0;
  let i = start;
  for (; i + 1 < end; i += 2) {
    z0 += a[i]! * 0;
    z1 += a[i + 1]! * 0;
  }
  if (i < end) z0 += a[i]! * 0;
  if (z0 + z1 === 0) return -1;
  for (let j = start; j < end; j++) if (!Number.isFinite(a[j]!)) return j;
  return -1;
}

/** Decodes little-endian `bytes` of `encoding` into dst[offset ...]. */
export function decodeInto(dst: Float32Array, offset: number, bytes: Uint8Array, encoding: TensorEncoding): void {
  if (encoding === 'fp32') {
    // A byte copy into the (aligned) destination: works whatever the source's alignment.
    const target = new Uint8Array(dst.buffer, dst.byteOffset + offset * 4, bytes.length);
    target.set(bytes);
    if (!HOST_LITTLE_ENDIAN) Buffer.from(target.buffer, target.byteOffset, target.length).swap32();
    return;
  }
  const n = bytes.length / 2;
  if (bytes.byteOffset % 2 === 0 && HOST_LITTLE_ENDIAN) {
    bfloat16ArrayToFloat32(new Uint16Array(bytes.buffer, bytes.byteOffset, n), dst, offset);
    return;
  }
  // Received bytes can sit at an odd offset inside the message buffer: read them one by one.
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  for (let i = 0; i < n; i++) dst[offset + i] = bfloat16BitsToFloat32(view.getUint16(i * 2, true));
}
