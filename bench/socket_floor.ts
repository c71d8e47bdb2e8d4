// The least a step's communication can cost on this host, whatever the protocol: the same bytes as
// a synchronous data-parallel step (the weights to every worker, every worker's gradients back,
// added up) over plain TCP sockets between the same number of processes, with no framing, no
// protobuf, no HTTP/2, no checks. bench/comm_overhead.ts reports it next to the gRPC figure, so a
// reader can tell the cost of our transport from the cost of this machine.
//
// As a script it is one peer: node dist/bench/socket_floor.js PORT BYTES

import { spawn } from 'node:child_process';
import * as net from 'node:net';
import { performance } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';

const SELF = fileURLToPath(import.meta.url);

/** Reads exactly `into.length` bytes from the socket's 'data' events into `into`. */
function readExactly(socket: net.Socket, into: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    let got = 0;
    const onData = (d: Buffer): void => {
      const take = Math.min(d.length, into.length - got);
      into.set(d.subarray(0, take), got);
      got += take;
      if (take < d.length) return fail(new Error(`socket floor: ${d.length - take} bytes beyond the message`));
      if (got === into.length) done();
    };
    const onClose = (): void => fail(new Error('socket floor: a peer closed its socket'));
    const done = (): void => {
      socket.off('data', onData).off('close', onClose);
      resolve();
    };
    const fail = (e: Error): void => {
      socket.off('data', onData).off('close', onClose);
      reject(e);
    };
    socket.on('data', onData).on('close', onClose);
  });
}

/**
 * Median seconds of one round with `workers` peer processes and `bytes` each way per peer, over
 * `rounds` rounds after one warm-up. Bytes must be a multiple of 4 (float32 elements).
 */
export async function socketFloorSeconds(workers: number, bytes: number, rounds: number): Promise<number> {
  if (bytes % 4 !== 0) throw new Error(`socket floor: ${bytes} bytes is not a whole number of float32 elements`);
  const server = net.createServer();
  const sockets: net.Socket[] = [];
  const connected = new Promise<void>((resolve) =>
    server.on('connection', (s) => {
      s.setNoDelay(true);
      sockets.push(s);
      if (sockets.length === workers) resolve();
    }),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  const peers = Array.from({ length: workers }, () => spawn(process.execPath, [SELF, String(port), String(bytes)], { stdio: 'ignore' }));
  try {
    await connected;
    const weights = Buffer.alloc(bytes, 1);
    const received = sockets.map(() => new Float32Array(bytes / 4));
    const sum = new Float32Array(bytes / 4);
    const times: number[] = [];
    for (let round = 0; round <= rounds; round++) {
      const t0 = performance.now();
      sum.fill(0);
      await Promise.all(
        sockets.map(async (s, i) => {
          const into = received[i]!;
          const read = readExactly(s, new Uint8Array(into.buffer));
          s.write(weights);
          await read;
        }),
      );
      for (const g of received) for (let k = 0; k < sum.length; k++) sum[k] = sum[k]! + g[k]!;
      if (round > 0) times.push((performance.now() - t0) / 1000);
    }
    times.sort((a, b) => a - b);
    return times[Math.floor(times.length / 2)]!;
  } finally {
    for (const s of sockets) s.destroy();
    for (const p of peers) p.kill();
    server.close();
  }
}

/** One peer: read the weights, answer with as many bytes of gradients, until the socket closes. */
function peer(port: number, bytes: number): void {
  const socket = net.connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  const gradients = Buffer.alloc(bytes, 2);
  const weights = new Uint8Array(bytes);
  const loop = async (): Promise<void> => {
    for (;;) {
      await readExactly(socket, weights);
      socket.write(gradients);
    }
  };
  socket.on('connect', () => void loop().catch(() => socket.destroy()));
  socket.on('error', () => process.exit(0));
  socket.on('close', () => process.exit(0));
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [port, bytes] = process.argv.slice(2).map(Number);
  if (!port || !bytes) {
    process.stderr.write('usage: node dist/bench/socket_floor.js PORT BYTES\n');
    process.exit(2);
  }
  peer(port, bytes);
}
