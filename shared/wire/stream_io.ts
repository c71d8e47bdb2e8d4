// Writing to gRPC streams with backpressure: wait for 'drain' whenever write() says the buffer is full.

export interface WritableStream<T> {
  write(m: T): boolean;
  once(ev: 'drain', f: () => void): unknown;
}

export async function writeAll<T>(stream: WritableStream<T>, messages: Iterable<T>): Promise<void> {
  for (const m of messages) {
    if (!stream.write(m)) await new Promise<void>((resolve) => stream.once('drain', resolve));
  }
}
