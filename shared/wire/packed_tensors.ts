// Many tensors as one run of elements on the wire (PackedTensors in coordinator.proto): the
// tensors a header announced, each flattened, end to end in the header's order, cut into messages
// of at most maxChunkBytes of data. A LoRA is dozens of small tensors (48 at rank 4 on ViT-B, 12 KB
// each), and each message costs the same fixed work in grpc-js and here whatever its size, so
// sending one message per tensor made small ranks pay mostly for message count.
//
// packedTensorMessages lays each message out by hand in one buffer, the elements written in
// place, ready to write (through protobufjs, every byte would be copied twice more and leave
// garbage behind); PackedAssembler rebuilds the tensors on the other side from a peer that must be assumed
// hostile: every field is checked against the header before anything is written.

import { float32ArrayToBfloat16, float32ToBfloat16Bits, HOST_LITTLE_ENDIAN } from '../tensor/dtype_codec.js';
import { PreEncodedMessage } from './pre_encoded.js';
import { LENGTH_DELIMITED, VARINT, tag, varintSize, writeVarint } from './proto_bytes.js';
import type { PackedTensors } from './messages.js';
import type { HostTensor } from '../tensor/host_tensor.js';
import {
  type AssembledTensor,
  DEFAULT_ASSEMBLER_BUDGET_BYTES,
  type EncodeOptions,
  type TensorEncoding,
  TensorWireError,
  checkName,
  decodeInto,
  elementBytes,
  elementsPerChunk,
  firstNonFinite,
  fromWireEncoding,
  sameShape,
  shapeElements,
} from './tensor_codec.js';
import { errorMessage } from '../errors/error_message.js';

/** Which envelope a message goes in: WorkerMessage or CoordinatorMessage. */
export type ChunkEnvelope = 'worker_message' | 'coordinator_message';
/** The `packed` member's field number in each envelope (coordinator.proto). */
const ENVELOPE_FIELD: Record<ChunkEnvelope, number> = { worker_message: 7, coordinator_message: 8 };

/**
 * The tensors (in the map's order, which must be the order their header lists) as PackedTensors
 * messages, each a whole serialized WorkerMessage or CoordinatorMessage: none for no tensors,
 * else one or more, the final one marked last (even when all tensors are empty). Data is copied. Throws
 * TensorWireError('INVALID_INPUT' / 'BAD_NAME') for a tensor that could not be reassembled.
 */
export function* packedTensorMessages(tensors: ReadonlyMap<string, HostTensor>, options: EncodeOptions & { envelope: ChunkEnvelope }): Generator<PreEncodedMessage, void, undefined> {
  const perChunk = elementsPerChunk(tensors, options);
  // No tensors, no chunks; otherwise the last chunk is always marked (even with no elements).
  if (tensors.size === 0) return;
  const width = elementBytes(options.encoding);
  const bf16 = options.encoding === 'bf16';
  const parts = [...tensors.values()].map((t) => t.data);
  const total = parts.reduce((a, p) => a + p.length, 0);
  // Where the next element comes from: part index and offset within it.
  let part = 0;
  let within = 0;
  let offset = 0;
  do {
    const count = Math.min(perChunk, total - offset);
    const last = offset + count === total;
    const dataBytes = count * width;
    // Fields at their proto3 defaults (FP32, offset 0, total 0, last false) are left out.
    const fieldsBeforeData = (bf16 ? 2 : 0) + (offset ? 1 + varintSize(offset) : 0) + (total ? 1 + varintSize(total) : 0) + 1 + varintSize(dataBytes);
    const bodySize = fieldsBeforeData + dataBytes + (last ? 2 : 0);
    const envelopeHead = 1 + varintSize(bodySize);
    // One spare byte so the data can start at an even address (a Uint16Array view for bf16).
    const pad = bf16 && (envelopeHead + fieldsBeforeData) % 2 === 1 ? 1 : 0;
    const buf = Buffer.allocUnsafe(pad + envelopeHead + bodySize).subarray(pad);
    let at = 0;
    buf[at++] = tag(ENVELOPE_FIELD[options.envelope], LENGTH_DELIMITED);
    at = writeVarint(buf, at, bodySize);
    if (bf16) {
      buf[at++] = tag(1, VARINT);
      buf[at++] = 1;
    }
    if (offset) {
      buf[at++] = tag(2, VARINT);
      at = writeVarint(buf, at, offset);
    }
    if (total) {
      buf[at++] = tag(3, VARINT);
      at = writeVarint(buf, at, total);
    }
    buf[at++] = tag(4, LENGTH_DELIMITED);
    at = writeVarint(buf, at, dataBytes);
    let left = count;
    while (left > 0) {
      const src = parts[part]!;
      const take = Math.min(left, src.length - within);
      writeElements(buf, at, src, within, take, bf16);
      at += take * width;
      left -= take;
      within += take;
      if (within === src.length) {
        part++;
        within = 0;
      }
    }
    if (last) {
      buf[at++] = tag(5, VARINT);
      buf[at++] = 1;
    }
    if (at !== buf.length) throw new Error(`packed message layout: wrote ${at} of ${buf.length} bytes`);
    yield new PreEncodedMessage(buf);
    offset += count;
  } while (offset < total);
}

export interface PackedAssemblerOptions {
  /** The only tensors accepted, with their exact shapes; the header must list each exactly once. */
  expected?: ReadonlyMap<string, readonly number[]>;
  /** Reject NaN and ±Infinity elements with NON_FINITE (default false). */
  rejectNonFinite?: boolean;
  /** Accept only this encoding (default: either, the same throughout). */
  encoding?: TensorEncoding;
  /** Arrays to decode into, by name; a tensor without a target of its size gets a new array. */
  targets?: ReadonlyMap<string, Float32Array>;
  /** Most bytes of float32 data in all (default: DEFAULT_ASSEMBLER_BUDGET_BYTES, or the expected set's size). */
  maxTotalBytes?: number;
}

interface Slot {
  name: string;
  shape: number[];
  /** Index of its first element in the concatenation. */
  start: number;
  data: Float32Array;
}

/**
 * Rebuilds the tensors a header announced (`layout`: names and shapes, in order) from the
 * PackedTensors chunks that follow it. The constructor checks the header (names, shapes, the
 * expected set, the budget); push() checks each chunk and decodes it in place; `complete` says
 * when every element arrived. The first error closes the assembler (later calls throw
 * ASSEMBLER_CLOSED).
 */
export class PackedAssembler {
  private readonly slots: Slot[] = [];
  private readonly total: number;
  private readonly rejectNonFinite: boolean;
  private readonly onlyEncoding: TensorEncoding | undefined;
  private encoding: TensorEncoding | undefined;
  private received = 0;
  private sawLast = false;
  private closed: string | undefined;

  constructor(layout: readonly { name: string; shape: readonly unknown[] }[], options: PackedAssemblerOptions = {}) {
    this.rejectNonFinite = options.rejectNonFinite ?? false;
    this.onlyEncoding = options.encoding;
    const expected = options.expected;
    let budget = options.maxTotalBytes ?? DEFAULT_ASSEMBLER_BUDGET_BYTES;
    if (expected && options.maxTotalBytes === undefined) {
      budget = 0;
      for (const s of expected.values()) budget += 4 * (shapeElements(s) as number);
    }
    const seen = new Set<string>();
    let total = 0;
    for (const { name: rawName, shape } of layout) {
      const name = checkName(rawName);
      if (seen.has(name)) throw new TensorWireError('DUPLICATE_TENSOR', 'listed twice in the header', name);
      seen.add(name);
      if (!Array.isArray(shape)) throw new TensorWireError('BAD_SHAPE', 'shape is not a list', name);
      const n = shapeElements(shape);
      if (typeof n === 'string') throw new TensorWireError('BAD_SHAPE', n, name);
      const dims = shape as number[];
      if (expected) {
        const want = expected.get(name);
        if (want === undefined) throw new TensorWireError('UNEXPECTED_TENSOR', 'not one of the expected tensors', name);
        if (!sameShape(want, dims)) throw new TensorWireError('SHAPE_MISMATCH', `shape [${dims.join(', ')}], expected [${want.join(', ')}]`, name);
      }
      if (4 * (total + n) > budget) throw new TensorWireError('BUDGET_EXCEEDED', `the header's tensors need more than the budget of ${budget} bytes`, name);
      const target = options.targets?.get(name);
      this.slots.push({ name, shape: [...dims], start: total, data: target?.length === n ? target : new Float32Array(n) });
      total += n;
    }
    if (expected) {
      const missing = [...expected.keys()].filter((k) => !seen.has(k));
      if (missing.length) throw new TensorWireError('MISSING_TENSOR', `${missing.length} expected tensor(s) not in the header: ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ', ...' : ''}`);
    }
    this.total = total;
  }

  /** Every announced element arrived: the chunk marked last was accepted (or nothing was announced). */
  get complete(): boolean {
    return this.slots.length === 0 || this.sawLast;
  }

  /** Accepts the next chunk. Throws TensorWireError. */
  push(chunk: PackedTensors): void {
    if (this.closed !== undefined) throw new TensorWireError('ASSEMBLER_CLOSED', `assembler is closed (${this.closed})`);
    try {
      this.accept(chunk);
    } catch (e) {
      this.closed = errorMessage(e);
      throw e;
    }
  }

  /** The tensors, in header order; throws INCOMPLETE_TENSOR unless complete. */
  finish(): Map<string, AssembledTensor> {
    if (this.closed !== undefined) throw new TensorWireError('ASSEMBLER_CLOSED', `assembler is closed (${this.closed})`);
    if (this.received < this.total) throw new TensorWireError('INCOMPLETE_TENSOR', `only ${this.received} of ${this.total} packed elements arrived`);
    this.closed = 'finished';
    const encoding = this.encoding ?? this.onlyEncoding ?? 'fp32';
    return new Map(this.slots.map((s) => [s.name, { name: s.name, shape: s.shape, data: s.data, encoding }]));
  }

  private accept(chunk: PackedTensors): void {
    const encoding = fromWireEncoding(chunk.encoding);
    if (encoding === undefined) throw new TensorWireError('UNKNOWN_ENCODING', `unknown encoding ${JSON.stringify(chunk.encoding)}`);
    if (this.onlyEncoding !== undefined && encoding !== this.onlyEncoding) throw new TensorWireError('UNKNOWN_ENCODING', `encoding ${encoding} where ${this.onlyEncoding} was agreed`);
    if (this.encoding !== undefined && encoding !== this.encoding) throw new TensorWireError('INCONSISTENT_CHUNK', `encoding ${encoding} after chunks in ${this.encoding}`);
    const { total_elements: total, offset_elements: offset, data } = chunk;
    if (total !== this.total) throw new TensorWireError('BAD_TOTAL', `total_elements ${total}, but the header's tensors have ${this.total}`);
    if (!Number.isSafeInteger(offset) || offset < 0) throw new TensorWireError('OFFSET_OUT_OF_ORDER', `invalid offset_elements ${offset}`);
    if (offset > this.received) throw new TensorWireError('OFFSET_OUT_OF_ORDER', `offset ${offset} but ${this.received} elements received so far (a gap)`);
    if (offset < this.received) throw new TensorWireError('OFFSET_OVERLAP', `offset ${offset} overlaps the ${this.received} elements already received`);
    if (!(data instanceof Uint8Array)) throw new TensorWireError('BAD_DATA_LENGTH', 'data is not bytes');
    const width = elementBytes(encoding);
    if (data.length % width !== 0) throw new TensorWireError('BAD_DATA_LENGTH', `${data.length} data bytes is not a whole number of ${encoding} elements`);
    const count = data.length / width;
    if (count > this.total - offset) throw new TensorWireError('BEYOND_TOTAL', `chunk at ${offset} carries ${count} elements, past total ${this.total}`);
    const end = offset + count;
    if (chunk.last !== (end === this.total)) {
      throw new TensorWireError('BAD_LAST_FLAG', chunk.last ? `last chunk ends at ${end} of ${this.total} elements` : `chunk completes the tensors (${end} elements) but is not marked last`);
    }
    if (count === 0 && !chunk.last) throw new TensorWireError('BAD_DATA_LENGTH', 'empty chunk that is not the last');
    if (this.sawLast || this.slots.length === 0) throw new TensorWireError('BEYOND_TOTAL', 'a chunk after the last one');
    this.encoding = encoding;
    // Decode tensor by tensor: find the slot holding `offset`, then walk forward.
    let i = this.slotAt(offset);
    let at = offset;
    let byte = 0;
    while (at < end) {
      const s = this.slots[i]!;
      const from = at - s.start;
      const take = Math.min(end - at, s.data.length - from);
      decodeInto(s.data, from, data.subarray(byte, byte + take * width), encoding);
      if (this.rejectNonFinite) {
        const bad = firstNonFinite(s.data, from, from + take);
        if (bad >= 0) throw new TensorWireError('NON_FINITE', `element ${bad} is ${s.data[bad]}`, s.name);
      }
      at += take;
      byte += take * width;
      i++;
    }
    this.received = end;
    this.sawLast = chunk.last;
  }

  /** Index of the last slot starting at or before element `offset`: the one holding it (empty slots never do). */
  private slotAt(offset: number): number {
    let lo = 0;
    let hi = this.slots.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.slots[mid]!.start <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }
}

/** data[start, start + count) as little-endian fp32 or bf16 at buf[at...]. */
function writeElements(buf: Buffer, at: number, data: Float32Array, start: number, count: number, bf16: boolean): void {
  if (!bf16) {
    buf.set(new Uint8Array(data.buffer, data.byteOffset + start * 4, count * 4), at);
    if (!HOST_LITTLE_ENDIAN) buf.subarray(at, at + count * 4).swap32();
    return;
  }
  const address = buf.byteOffset + at;
  if (address % 2 === 0 && HOST_LITTLE_ENDIAN) {
    float32ArrayToBfloat16(data.subarray(start, start + count), new Uint16Array(buf.buffer, address, count));
    return;
  }
  for (let i = 0; i < count; i++) buf.writeUInt16LE(float32ToBfloat16Bits(data[start + i]!), at + i * 2);
}
