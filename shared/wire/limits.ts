// Message-size limits of the wire, applied explicitly on both ends (channel and server options)
// so neither side depends on grpc-js's defaults (4 MiB receive, unlimited send), and the tensor
// chunk size derived from the limit. A message over the limit fails its call with
// RESOURCE_EXHAUSTED on whichever side notices first.

export const KiB = 1024;
export const MiB = 1024 * 1024;

/** Default limit for every message in both directions. */
export const DEFAULT_MAX_MESSAGE_BYTES = 16 * MiB;
/** Smallest accepted limit: leaves room for a useful tensor chunk next to its header. */
export const MIN_MAX_MESSAGE_BYTES = 64 * KiB;
/** Largest limit gRPC can express (a signed 32-bit length). */
export const MAX_MAX_MESSAGE_BYTES = 2 ** 31 - 1;

/** Longest tensor name, in UTF-8 bytes, the codec sends or accepts. */
export const MAX_TENSOR_NAME_BYTES = 1024;
/** Highest tensor rank the codec sends or accepts. */
export const MAX_TENSOR_RANK = 8;
/**
 * Bytes of a message kept free for everything around a chunk's data: the name (at most
 * MAX_TENSOR_NAME_BYTES), the shape (at most MAX_TENSOR_RANK varints), the scalar fields, the
 * oneof envelope and the gRPC frame — about 1.2 KiB at most; the rest is margin.
 */
export const CHUNK_HEADROOM_BYTES = 16 * KiB;

export class LimitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LimitError';
  }
}

/** Returns `bytes` when it is a usable message limit, else throws LimitError. */
export function validateMaxMessageBytes(bytes: number): number {
  if (!Number.isSafeInteger(bytes) || bytes < MIN_MAX_MESSAGE_BYTES || bytes > MAX_MAX_MESSAGE_BYTES) {
    throw new LimitError(
      `max message size must be an integer from ${MIN_MAX_MESSAGE_BYTES} to ${MAX_MAX_MESSAGE_BYTES} bytes, got ${bytes}`,
    );
  }
  return bytes;
}

/** The grpc-js options that set both limits; the same keys work for channels and servers. */
export interface MessageSizeOptions {
  'grpc.max_receive_message_length': number;
  'grpc.max_send_message_length': number;
}

/** Options for `new grpc.Server(...)` (spread them in). */
export function serverLimitOptions(maxMessageBytes: number = DEFAULT_MAX_MESSAGE_BYTES): MessageSizeOptions {
  const n = validateMaxMessageBytes(maxMessageBytes);
  return { 'grpc.max_receive_message_length': n, 'grpc.max_send_message_length': n };
}

/** Options for a client / channel (spread them in). */
export function channelLimitOptions(maxMessageBytes: number = DEFAULT_MAX_MESSAGE_BYTES): MessageSizeOptions {
  return serverLimitOptions(maxMessageBytes);
}

/**
 * Largest TensorChunk data payload for a message limit: the limit less CHUNK_HEADROOM_BYTES,
 * rounded down to whole float32 elements (so it is whole elements for bf16 too).
 */
export function chunkBytesFor(maxMessageBytes: number = DEFAULT_MAX_MESSAGE_BYTES): number {
  const n = validateMaxMessageBytes(maxMessageBytes);
  return Math.floor((n - CHUNK_HEADROOM_BYTES) / 4) * 4;
}

/**
 * Most tensor data per message actually sent, whatever the message limit. The coordinator takes
 * any complete message from a worker as a sign of life (its heartbeats queue behind its data on
 * the same stream), so messages must complete often even while many workers upload at once: at
 * rank 512 with 8 workers on one host, 16 MiB messages went more than the 10 s heartbeat deadline
 * without one completing. 1 MiB and 16 MiB messages move data equally fast (bench/comm_overhead.ts).
 */
export const TENSOR_CHUNK_TARGET_BYTES = 1 * MiB;

/** The data per tensor chunk message to send: chunkBytesFor(limit), at most TENSOR_CHUNK_TARGET_BYTES. */
export function tensorChunkBytes(maxMessageBytes: number = DEFAULT_MAX_MESSAGE_BYTES): number {
  return Math.min(chunkBytesFor(maxMessageBytes), TENSOR_CHUNK_TARGET_BYTES);
}

/**
 * The limit both sides use (JoinReply.max_message_bytes): the smaller of the coordinator's and
 * the worker's (0 or undefined = no preference, use the other's).
 */
export function negotiateMaxMessageBytes(coordinator: number, worker?: number): number {
  const c = validateMaxMessageBytes(coordinator);
  if (worker === undefined || worker === 0) return c;
  return Math.min(c, validateMaxMessageBytes(worker));
}
