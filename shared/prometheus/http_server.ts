// The /metrics endpoint of the coordinator and the workers: a tiny node:http server on its own
// port (never the gRPC one). GET (or HEAD) /metrics answers the registry's text exposition; every
// other path is 404. Bounded: few connections, short timeouts, no request bodies read, so a
// misbehaving scraper cannot hold the training process's memory or sockets. When every connection
// slot is taken, a new connection pushes out the oldest one that has no request in progress (a
// slow or idle client), so scrapes get through while slow clients hold sockets.

import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { type ListenAddress, formatAddress } from './listen_address.js';
import { errorMessage } from '../errors/error_message.js';

/** What the server needs of a prom-client Registry. */
export interface MetricsSource {
  metrics(): Promise<string>;
  readonly contentType: string;
}

export interface MetricsServer {
  /** HOST:PORT actually bound (port 0 resolved). */
  readonly address: string;
  readonly port: number;
  /** http://HOST:PORT/metrics */
  readonly url: string;
  /** Stops listening and drops open connections; idempotent. */
  close(): Promise<void>;
}

/** The server could not listen (port taken, no such address, no permission): says which flag to change. */
export class MetricsListenError extends Error {
  override readonly name = 'MetricsListenError';
}

const MAX_CONNECTIONS = 16;
/** A connection with no complete request header within this, or silent this long, is closed. */
const HEADERS_TIMEOUT_MS = 2_000;
const IDLE_TIMEOUT_MS = 5_000;
/** A scrape that takes longer than this is answered 500 (collect callbacks are bounded too). */
const SCRAPE_TIMEOUT_MS = 10_000;

function listenProblem(err: NodeJS.ErrnoException, a: ListenAddress): string {
  switch (err.code) {
    case 'EADDRINUSE':
      return `port ${a.port} is already in use on ${a.host} (choose another port, or 0 for any free one)`;
    case 'EACCES':
      return `permission denied (ports below 1024 need privileges; use e.g. 9464)`;
    case 'EADDRNOTAVAIL':
      return `this host has no address ${a.host} (use 0.0.0.0 for every interface, or 127.0.0.1)`;
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `cannot resolve the host ${a.host}`;
    default:
      return err.message;
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`collecting metrics took over ${ms} ms`)), ms);
    p.then(
      (v) => (clearTimeout(t), resolve(v)),
      (e: unknown) => (clearTimeout(t), reject(e instanceof Error ? e : new Error(String(e)))),
    );
  });
}

/**
 * At most MAX_CONNECTIONS sockets: a new one first closes the oldest socket with no request in
 * progress (headers still trickling in, or an idle keep-alive), and only when every socket is busy
 * answering is the newcomer dropped. Silent sockets are closed after IDLE_TIMEOUT_MS.
 */
function boundConnections(server: http.Server): void {
  /** Sockets with no request in progress, oldest first (a Set keeps insertion order). */
  const idle = new Set<Socket>();
  let open = 0;
  server.on('connection', (socket: Socket) => {
    open++;
    socket.setTimeout(IDLE_TIMEOUT_MS, () => socket.destroy());
    socket.once('close', () => {
      open--;
      idle.delete(socket);
    });
    if (open > MAX_CONNECTIONS) {
      const oldest = idle.values().next();
      if (oldest.done) return void socket.destroy();
      idle.delete(oldest.value);
      oldest.value.destroy();
    }
    idle.add(socket);
  });
  // Before the handler, which may end a response at once.
  server.prependListener('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
    const socket = req.socket;
    idle.delete(socket);
    res.once('finish', () => {
      if (!socket.destroyed) idle.add(socket);
    });
  });
}

/** Starts serving `source` at `listen`; `flag` (e.g. "--metrics") names the option in errors. */
export async function startMetricsServer(o: { listen: ListenAddress; source: MetricsSource; flag?: string }): Promise<MetricsServer> {
  const flag = o.flag ?? '--metrics';
  const server = http.createServer(
    { requestTimeout: SCRAPE_TIMEOUT_MS + 5_000, headersTimeout: HEADERS_TIMEOUT_MS, keepAliveTimeout: IDLE_TIMEOUT_MS, connectionsCheckingInterval: 500, maxHeaderSize: 8192 },
    (req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0];
    const reply = (code: number, body: string, headers: http.OutgoingHttpHeaders = {}): void => {
      res.writeHead(code, { 'content-type': 'text/plain; charset=utf-8', ...headers });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (path !== '/metrics') return reply(404, 'not found: metrics are served at /metrics\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') return reply(405, 'only GET /metrics\n', { allow: 'GET, HEAD' });
    withTimeout(o.source.metrics(), SCRAPE_TIMEOUT_MS).then(
      (text) => reply(200, text, { 'content-type': o.source.contentType }),
      (err: unknown) => reply(500, `collecting metrics failed: ${errorMessage(err)}\n`),
    );
    },
  );
  boundConnections(server);
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => reject(new MetricsListenError(`${flag} ${formatAddress(o.listen)}: cannot serve metrics: ${listenProblem(err, o.listen)}`));
    server.once('error', onError);
    server.listen({ host: o.listen.host, port: o.listen.port }, () => {
      server.off('error', onError);
      resolve();
    });
  });
  // A later socket error must not crash the run.
  server.on('error', () => undefined);
  const port = (server.address() as AddressInfo).port;
  const address = formatAddress({ host: o.listen.host, port });
  let closed: Promise<void> | undefined;
  return {
    address,
    port,
    url: `http://${address}/metrics`,
    close(): Promise<void> {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closed;
    },
  };
}
