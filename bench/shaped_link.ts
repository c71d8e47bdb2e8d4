// A link modelled by bandwidth and latency, for the link simulation (bench/link_sim.ts): a TCP
// proxy (node:net) in front of a real server whose bytes, in each direction, pass a series of token
// buckets (one per NIC and direction they cross: the sender's egress, the receiver's ingress) and
// are then held for the one-way latency before they are written on. A bucket shared by several
// proxies is a shared NIC: the coordinator's ingress bucket paces the sum of everything sent to it.
//
// Timing is kept in virtual time (each chunk gets the time it leaves its last bucket, plus the
// latency), and a chunk is written as soon as the event loop sees that time has come: a late timer
// (Node's are 1 ms grained) delays that chunk, not every later one. A connection holds at most
// HIGH_WATER bytes in flight (queued here or unread by the receiver) before its sender is paused,
// as a TCP window would (the HTTP/2 windows of the protocol are 16 MiB: this is what they let through).

import * as net from 'node:net';
import { performance } from 'node:perf_hooks';

/** Bytes a connection may hold in flight, per direction, before its sender is paused. */
const HIGH_WATER = 8 * 1024 * 1024;

/** One NIC in one direction: `bytesPerSecond` (Infinity: no limit), with a burst of `burstBytes`. */
export class TokenBucket {
  /** When the bytes offered so far will have left, minus the burst's head start (ms, performance.now). */
  private freeAtMs = Number.NEGATIVE_INFINITY;
  /** Bytes that passed this bucket. */
  bytes = 0;

  constructor(
    readonly bytesPerSecond: number,
    readonly burstBytes = 64 * 1024,
  ) {
    if (!(bytesPerSecond > 0)) throw new Error(`a link needs a bandwidth above 0 (got ${bytesPerSecond} B/s)`);
  }

  /** Offers `bytes` at `atMs`; returns when they have left this bucket (>= atMs). FIFO over all its users. */
  pass(bytes: number, atMs: number): number {
    this.bytes += bytes;
    if (this.bytesPerSecond === Number.POSITIVE_INFINITY) return atMs;
    const msPerByte = 1000 / this.bytesPerSecond;
    // A bucket idle long enough is full: `burstBytes` go at once.
    const start = Math.max(atMs - this.burstBytes * msPerByte, this.freeAtMs);
    this.freeAtMs = start + bytes * msPerByte;
    return Math.max(atMs, this.freeAtMs);
  }
}

/** The buckets each direction crosses, in order, and the one-way latency. */
export interface LinkShape {
  /** Client to server (e.g. [host egress, coordinator ingress]). */
  up: readonly TokenBucket[];
  /** Server to client. */
  down: readonly TokenBucket[];
  latencyMs: number;
}

export interface ShapedProxy {
  /** HOST:PORT to connect to instead of the target. */
  readonly address: string;
  close(): Promise<void>;
}

/** Listens on 127.0.0.1 (any free port) and forwards every connection to `target` (HOST:PORT) through `shape`. */
export async function startShapedProxy(target: string, shape: LinkShape): Promise<ShapedProxy> {
  const cut = target.lastIndexOf(':');
  const host = target.slice(0, cut);
  const port = Number(target.slice(cut + 1));
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect({ host, port });
    for (const s of [client, upstream]) {
      s.setNoDelay(true);
      sockets.add(s);
      s.once('close', () => sockets.delete(s));
    }
    const endBoth = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.once('error', endBoth);
    upstream.once('error', endBoth);
    pipe(client, upstream, shape.up, shape.latencyMs);
    pipe(upstream, client, shape.down, shape.latencyMs);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port: local } = server.address() as net.AddressInfo;
  return {
    address: `127.0.0.1:${local}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Moves `from`'s bytes to `to`, each chunk written at the time the buckets and the latency give it. */
function pipe(from: net.Socket, to: net.Socket, buckets: readonly TokenBucket[], latencyMs: number): void {
  const queue: { at: number; chunk: Buffer }[] = [];
  let queued = 0;
  let timer: NodeJS.Timeout | undefined;
  let ended = false;
  const inFlight = (): number => queued + to.writableLength;
  const flush = (): void => {
    timer = undefined;
    const now = performance.now();
    while (queue.length && queue[0]!.at <= now) {
      const { chunk } = queue.shift()!;
      queued -= chunk.length;
      to.write(chunk);
    }
    if (queue.length) timer = setTimeout(flush, queue[0]!.at - now);
    else if (ended) to.end();
    if (from.isPaused() && inFlight() < HIGH_WATER / 2) from.resume();
  };
  from.on('data', (chunk: Buffer) => {
    const at = buckets.reduce((t, b) => b.pass(chunk.length, t), performance.now()) + latencyMs;
    queue.push({ at, chunk });
    queued += chunk.length;
    if (inFlight() >= HIGH_WATER) from.pause();
    timer ??= setTimeout(flush, at - performance.now());
  });
  // The receiver read what it had: more may come from the sender.
  to.on('drain', () => {
    if (from.isPaused() && inFlight() < HIGH_WATER / 2) from.resume();
  });
  from.once('end', () => {
    ended = true;
    if (!queue.length && timer === undefined) to.end();
  });
}
