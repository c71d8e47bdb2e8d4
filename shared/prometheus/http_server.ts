// The /metrics endpoint of the coordinator and the workers: a tiny node:http server on its own
// port (never the gRPC one). GET (or HEAD) /metrics answers the registry's text exposition; every
// other path is 404. Bounded: few connections, short timeouts, no request bodies read, so a
// misbehaving scraper cannot hold the training process's memory or sockets.

import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
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

/** Starts serving `source` at `listen`; `flag` (e.g. "--metrics") names the option in errors. */
export async function startMetricsServer(o: { listen: ListenAddress; source: MetricsSource; flag?: string }): Promise<MetricsServer> {
  const flag = o.flag ?? '--metrics';
  const server = http.createServer({ requestTimeout: 15_000, headersTimeout: 5_000, keepAliveTimeout: 5_000, maxHeaderSize: 8192 }, (req, res) => {
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
  });
  server.maxConnections = MAX_CONNECTIONS;
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
