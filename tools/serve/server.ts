// `sam-lora serve`'s HTTP server (node:http): the page (static_files.ts) and a JSON API.
//
//   GET  /api/info     the models, the weights, the limits
//   POST /api/images   body: the image file's bytes -> { id, width, height, encoded }; runs the image
//                      encoder once per model (nothing when the same bytes were sent before)
//   POST /api/predict  body: JSON (predict_request.ts) -> { image, prompt, results: [{ model, iou,
//                      ious, area, mask (PNG data: URL), ms }], ms }
//
// Every error is JSON { error, code } with a 4xx status naming what is wrong (5xx: busy, closing, or
// our bug, logged). A request never takes the server down: each handler's failure ends at its
// response. It is a local tool: request_guard.ts keeps other sites' pages (and DNS rebinding) out,
// and header, body and keep-alive timeouts keep slow clients from holding its request slots.

import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type ErrorBody, HttpError } from './http_error.js';
import { parsePredictRequest } from './predict_request.js';
import { type BodyTimeouts, DEFAULT_BODY_TIMEOUTS, readBody } from './request_body.js';
import { checkHost, checkOrigin, hostPolicy, requireContentType } from './request_guard.js';
import type { Segmenter } from './segmenter.js';
import type { ModelsInfo } from './serve_models.js';
import { type StaticFile, loadStaticFiles } from './static_files.js';
import { errorMessage, errorWithStack } from '../../shared/errors/error_message.js';

export const DEFAULT_MAX_UPLOAD_BYTES = 20 * 1024 * 1024;

export interface ServerOptions {
  host: string;
  /** 0: any free port. */
  port: number;
  /** Largest image file accepted (POST /api/images; as base64 in /api/predict it may be 4/3 of it). */
  maxUploadBytes: number;
  /** One line per request (default: none). */
  log?: (line: string) => void;
  /** Host names (host or host:port) the server answers to besides its listen address. */
  allowedHosts?: readonly string[];
  /** How long a request body may stall, and take in all (default DEFAULT_BODY_TIMEOUTS). */
  bodyTimeouts?: BodyTimeouts;
}

/** GET /api/info. */
export interface ServerInfo extends ModelsInfo {
  limits: { maxUploadBytes: number; maxPixels: number; maxPoints: number; cacheImages: number; maxWaiting: number };
}

export interface RunningServer {
  /** http://host:port/ */
  url: string;
  port: number;
  /** Stops accepting, lets the running inference finish and answer, releases the models. */
  close(): Promise<void>;
}

// The page loads only its own files; masks arrive as data: URLs, the image as a blob: URL.
const PAGE_HEADERS = {
  'Content-Security-Policy': "default-src 'self'; img-src 'self' data: blob:; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
};

const CLOSE_GRACE_MS = 5000;
/** Request headers must be complete within this; an idle keep-alive connection is closed after KEEP_ALIVE_MS. */
const HEADERS_TIMEOUT_MS = 10_000;
const KEEP_ALIVE_MS = 5_000;

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Readonly<Record<string, string>> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text), 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff', ...headers });
  res.end(text);
}

function sendStatic(req: IncomingMessage, res: ServerResponse, file: StaticFile): void {
  const headers = { ...PAGE_HEADERS, 'Content-Type': file.type, 'Cache-Control': 'no-cache', ETag: file.etag };
  if (req.headers['if-none-match'] === file.etag) {
    res.writeHead(304, headers).end();
    return;
  }
  res.writeHead(200, { ...headers, 'Content-Length': file.body.length });
  res.end(req.method === 'HEAD' ? undefined : file.body);
}

function allow(req: IncomingMessage, methods: string[]): void {
  if (!methods.includes(req.method ?? '')) {
    throw new HttpError(405, 'method_not_allowed', `${req.method} is not allowed on ${req.url}: use ${methods.join(' or ')}`, { Allow: methods.join(', ') });
  }
}

export async function startServer(segmenter: Segmenter, info: ModelsInfo, o: ServerOptions): Promise<RunningServer> {
  const files = loadStaticFiles();
  const log = o.log ?? (() => undefined);
  const { maxPixels, maxPoints, cacheImages, maxWaiting } = segmenter.limits;
  const serverInfo: ServerInfo = { ...info, limits: { maxUploadBytes: o.maxUploadBytes, maxPixels, maxPoints, cacheImages, maxWaiting } };
  // base64 is 4/3 of the bytes; the rest of the JSON is small.
  const jsonLimit = Math.ceil((o.maxUploadBytes * 4) / 3) + 64 * 1024;

  // Model requests being handled, bodies being read included: refusing past the queue's bound before
  // reading a body keeps a burst of uploads from buffering (maxWaiting + 1) x the upload limit or more.
  let active = 0;
  async function admitted(handle: () => Promise<void>): Promise<void> {
    if (active > maxWaiting) throw new HttpError(503, 'busy', `the server is busy (${active} requests in progress); try again shortly`, { 'Retry-After': '2' });
    active++;
    try {
      await handle();
    } finally {
      active--;
    }
  }

  const bodyTimeouts = o.bodyTimeouts ?? DEFAULT_BODY_TIMEOUTS;
  let hosts = hostPolicy(o.host, o.port, o.allowedHosts);

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const host = checkHost(req, hosts);
    if (req.method !== 'GET' && req.method !== 'HEAD') checkOrigin(req, host);
    const pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
    switch (pathname) {
      case '/api/info':
        allow(req, ['GET', 'HEAD']);
        return sendJson(res, 200, serverInfo);
      case '/api/images':
        allow(req, ['POST']);
        requireContentType(req, ['application/octet-stream', 'image/*']);
        return admitted(async () => {
          const bytes = await readBody(req, o.maxUploadBytes, 'the image', bodyTimeouts);
          sendJson(res, 200, await segmenter.addImage(bytes));
        });
      case '/api/predict':
        allow(req, ['POST']);
        requireContentType(req, ['application/json']);
        return admitted(async () => {
          const body = await readBody(req, jsonLimit, 'the request body', bodyTimeouts);
          sendJson(res, 200, await segmenter.predict(parsePredictRequest(body, maxPoints)));
        });
    }
    if (pathname.startsWith('/api/')) throw new HttpError(404, 'not_found', `no API endpoint ${pathname} (there are /api/info, /api/images and /api/predict)`);
    const file = files.get(pathname);
    if (!file) throw new HttpError(404, 'not_found', `not found: ${pathname}`);
    allow(req, ['GET', 'HEAD']);
    sendStatic(req, res, file);
  }

  const server: Server = createServer({ headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: bodyTimeouts.totalMs + HEADERS_TIMEOUT_MS, keepAliveTimeout: KEEP_ALIVE_MS, connectionsCheckingInterval: 1000 }, (req, res) => {
    const start = performance.now();
    res.on('finish', () => log(`${req.method} ${req.url} ${res.statusCode} ${Math.round(performance.now() - start)} ms`));
    route(req, res).catch((err: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (err instanceof HttpError) {
        return sendJson(res, err.status, { error: err.message, code: err.code } satisfies ErrorBody, err.headers);
      }
      log(`internal error on ${req.method} ${req.url}: ${errorWithStack(err)}`);
      sendJson(res, 500, { error: `internal error: ${errorMessage(err)}`, code: 'internal' } satisfies ErrorBody);
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => log(`server error: ${err.message}`));
  const address = server.address() as AddressInfo;
  hosts = hostPolicy(o.host, address.port, o.allowedHosts);
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${address.port}/`,
    port: address.port,
    close() {
      closing ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        await segmenter.close();
        // Keep-alive clients get a moment to read their last answer, then every socket goes.
        const grace = new Promise<void>((resolve) => setTimeout(resolve, CLOSE_GRACE_MS).unref());
        await Promise.race([closed, grace]);
        server.closeAllConnections();
        await closed;
      })();
      return closing;
    },
  };
}
