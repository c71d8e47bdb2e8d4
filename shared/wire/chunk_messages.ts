// TensorChunk messages serialized straight from float32 arrays. Tensors are nearly all of the bytes
// a run moves, and going through message objects and protobufjs costs two extra copies of every
// byte (the chunk's data, then the writer's buffer) plus the garbage they leave. Here each
// message is laid out by hand in one buffer: the protobuf fields of a `tensor` member of
// WorkerMessage or CoordinatorMessage, the elements written in place. The result decodes to the
// same TensorChunk as iterateTensorChunks produces (tests/wire/chunk_messages.test.ts).

import { float32ArrayToBfloat16, float32ToBfloat16Bits, HOST_LITTLE_ENDIAN } from '../tensor/dtype_codec.js';
import { PreEncodedMessage } from './pre_encoded.js';
import { LENGTH_DELIMITED, VARINT, tag, varintSize, writeVarint } from './proto_bytes.js';
import { type EncodeOptions, type HostTensor, elementBytes, elementsPerChunk } from './tensor_codec.js';

/** Which envelope the chunk goes in: WorkerMessage or CoordinatorMessage. */
export type ChunkEnvelope = 'worker_message' | 'coordinator_message';
/** The `tensor` member's field number in each envelope (coordinator.proto). */
const ENVELOPE_FIELD: Record<ChunkEnvelope, number> = { worker_message: 5, coordinator_message: 4 };

/**
 * The chunks of `tensors` (one tensor after the other, at most options.maxChunkBytes of data
 * each), each a whole serialized WorkerMessage or CoordinatorMessage. Data is copied: the caller
 * may change its arrays once this returns a message. Throws TensorWireError like
 * iterateTensorChunks for a tensor that could not be reassembled.
 */
export function* tensorChunkMessages(tensors: ReadonlyMap<string, HostTensor>, options: EncodeOptions & { envelope: ChunkEnvelope }): Generator<PreEncodedMessage, void, undefined> {
  const perChunk = elementsPerChunk(tensors, options);
  const width = elementBytes(options.encoding);
  const bf16 = options.encoding === 'bf16';
  for (const [name, t] of tensors) {
    const nameBytes = Buffer.from(name, 'utf8');
    const shapeBody = t.shape.reduce((a, d) => a + varintSize(d), 0);
    const total = t.data.length;
    let offset = 0;
    do {
      const count = Math.min(perChunk, total - offset);
      const last = offset + count === total;
      const dataBytes = count * width;
      // Fields at their proto3 defaults (FP32, offset 0, last false, empty shape) are left out,
      // as protobuf encoders do; the decoder fills them in.
      const fieldsBeforeData =
        1 + varintSize(nameBytes.length) + nameBytes.length +
        (t.shape.length ? 1 + varintSize(shapeBody) + shapeBody : 0) +
        (bf16 ? 2 : 0) +
        (offset ? 1 + varintSize(offset) : 0) +
        (total ? 1 + varintSize(total) : 0) +
        1 + varintSize(dataBytes);
      const chunkSize = fieldsBeforeData + dataBytes + (last ? 2 : 0);
      const envelopeHead = 1 + varintSize(chunkSize);
      const dataAt = envelopeHead + fieldsBeforeData;
      // One spare byte so the data can start at an even address (a Uint16Array view for bf16).
      const pad = bf16 && dataAt % 2 === 1 ? 1 : 0;
      const buf = Buffer.allocUnsafe(pad + envelopeHead + chunkSize).subarray(pad);
      let at = 0;
      buf[at++] = tag(ENVELOPE_FIELD[options.envelope], LENGTH_DELIMITED);
      at = writeVarint(buf, at, chunkSize);
      buf[at++] = tag(1, LENGTH_DELIMITED);
      at = writeVarint(buf, at, nameBytes.length);
      at += nameBytes.copy(buf, at);
      if (t.shape.length) {
        buf[at++] = tag(2, LENGTH_DELIMITED);
        at = writeVarint(buf, at, shapeBody);
        for (const d of t.shape) at = writeVarint(buf, at, d);
      }
      if (bf16) {
        buf[at++] = tag(3, VARINT);
        buf[at++] = 1;
      }
      if (offset) {
        buf[at++] = tag(4, VARINT);
        at = writeVarint(buf, at, offset);
      }
      if (total) {
        buf[at++] = tag(5, VARINT);
        at = writeVarint(buf, at, total);
      }
      buf[at++] = tag(6, LENGTH_DELIMITED);
      at = writeVarint(buf, at, dataBytes);
      writeElements(buf, at, t.data, offset, count, bf16);
      at += dataBytes;
      if (last) {
        buf[at++] = tag(7, VARINT);
        buf[at++] = 1;
      }
      if (at !== buf.length) throw new Error(`chunk message layout: wrote ${at} of ${buf.length} bytes`);
      yield new PreEncodedMessage(buf);
      offset += count;
    } while (offset < total);
  }
}

/** data[start, start + count) as little-endian fp32 or bf16 at buf[at...]. */
export function writeElements(buf: Buffer, at: number, data: Float32Array, start: number, count: number, bf16: boolean): void {
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
