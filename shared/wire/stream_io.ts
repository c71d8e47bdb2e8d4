// Writing to gRPC streams with backpressure: wait for 'drain' whenever write() says the buffer is
// full. A cancelled or broken call never drains, so every wait also ends when `signal` aborts (the
// peer's death, a deadline): the write then rejects with the signal's reason instead of hanging.

export interface WritableStream<T> {
  write(m: T): boolean;
  once(ev: 'drain', f: () => void): unknown;
  removeListener(ev: 'drain', f: () => void): unknown;
}

export async function writeAll<T>(stream: WritableStream<T>, messages: Iterable<T>, signal?: AbortSignal): Promise<void> {
  for (const m of messages) {
    signal?.throwIfAborted();
    if (!stream.write(m)) await drained(stream, signal);
  }
}

function drained<T>(stream: WritableStream<T>, signal: AbortSignal | undefined): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const onDrain = (): void => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    };
    const onAbort = (): void => {
      stream.removeListener('drain', onDrain);
      reject(signal!.reason instanceof Error ? signal!.reason : new Error(String(signal!.reason)));
    };
    stream.once('drain', onDrain);
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
