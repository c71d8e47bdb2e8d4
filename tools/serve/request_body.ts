// Reads a request body into memory, never more than a limit. A body past the limit is refused
// (413), but first read to its end and thrown away (up to DRAIN_BYTES more), because closing the
// connection on a client that is still sending makes many clients (node's fetch, browsers) see a
// connection reset instead of the 413. Past DRAIN_BYTES the connection is closed after the answer.
// A body that stalls, or trickles in for too long, is a 408 and the connection is closed: slow
// uploads must not hold the server's few request slots.

import type { IncomingMessage } from 'node:http';
import { HttpError } from './http_error.js';

/** How much of a refused body is read and discarded before giving up on it. */
export const DRAIN_BYTES = 64 * 1024 * 1024;

export interface BodyTimeouts {
  /** No byte for this long: 408. */
  idleMs: number;
  /** The whole body not there after this long: 408. */
  totalMs: number;
}

export const DEFAULT_BODY_TIMEOUTS: BodyTimeouts = { idleMs: 10_000, totalMs: 60_000 };

/** "20 MB" style, for messages. */
export function formatBytes(n: number): string {
  if (n >= 1 << 20) return `${+(n / (1 << 20)).toFixed(1)} MB`;
  if (n >= 1 << 10) return `${+(n / (1 << 10)).toFixed(1)} KB`;
  return `${n} bytes`;
}

function tooLarge(limit: number, what: string, close: boolean): HttpError {
  return new HttpError(413, 'payload_too_large', `${what} is larger than the server's limit of ${formatBytes(limit)} (${limit} bytes)`, close ? { Connection: 'close' } : {});
}

/** The whole body; HttpError 413 past `limit` bytes, 400 when the client aborts mid-body. */
export function readBody(req: IncomingMessage, limit: number, what = 'the request body', timeouts: BodyTimeouts = DEFAULT_BODY_TIMEOUTS): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  const declaredTooLarge = Number.isFinite(declared) && declared > limit;
  if (declaredTooLarge && declared > limit + DRAIN_BYTES) return Promise.reject(tooLarge(limit, `${what} (${formatBytes(declared)})`, true));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const slow = (why: string): HttpError => new HttpError(408, 'timeout', `${what} ${why}; the connection is closed`, { Connection: 'close' });
    const total = setTimeout(() => finish(slow(`did not arrive within ${timeouts.totalMs / 1000} s`)), timeouts.totalMs);
    const idle = setTimeout(() => finish(slow(`stalled: nothing arrived for ${timeouts.idleMs / 1000} s`)), timeouts.idleMs);
    const finish = (result: Buffer | HttpError): void => {
      if (done) return;
      done = true;
      clearTimeout(total);
      clearTimeout(idle);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onError);
      if (result instanceof HttpError) reject(result);
      else resolve(result);
    };
    const named = declaredTooLarge ? `${what} (${formatBytes(declared)})` : what;
    const onData = (chunk: Buffer): void => {
      idle.refresh();
      size += chunk.length;
      if (size > limit + DRAIN_BYTES) finish(tooLarge(limit, named, true));
      else if (size > limit) chunks.length = 0; // refused: read on, keep nothing
      else chunks.push(chunk);
    };
    const onEnd = (): void => finish(size > limit ? tooLarge(limit, named, false) : Buffer.concat(chunks, size));
    const onError = (): void => finish(new HttpError(400, 'bad_request', `${what} was cut off (the client closed the connection)`));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onError);
  });
}
