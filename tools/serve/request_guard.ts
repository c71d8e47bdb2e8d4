// Who may drive the web demo. It is a local tool without accounts, so what it checks is that a
// request comes from a client that meant to talk to it:
//   - Host must name the address it listens on (a loopback server answers to localhost, 127.0.0.1
//     and [::1]; one on every interface to any IP address): a DNS-rebinding page, whose Host is its
//     own domain name, can then read nothing, /api/info included.
//   - A state-changing call (POST) from a browser must come from the demo's own page: an Origin
//     header, when present, must be this server, and Sec-Fetch-Site must not say cross-site.
//   - Its body must declare its type (JSON, or the image bytes), which an HTML form on another site
//     cannot do without a CORS preflight, which this server never grants.

import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import { HttpError } from './http_error.js';

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];

export interface HostPolicy {
  /** host:port values (lower case) the server answers to. */
  readonly names: ReadonlySet<string>;
  /** Listening on every interface: any IP literal with the right port is this server too. */
  readonly anyIp: boolean;
  readonly port: number;
}

/** Which Host headers name a server listening on `host`:`port` (plus `extra` host[:port] names). */
export function hostPolicy(host: string, port: number, extra: readonly string[] = []): HostPolicy {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  const wildcard = bare === '0.0.0.0' || bare === '::' || bare === '';
  const loopback = bare === 'localhost' || bare === '::1' || bare.startsWith('127.');
  const names = new Set<string>();
  const add = (h: string): void => void names.add(`${h}:${port}`);
  add(isIP(bare) === 6 ? `[${bare}]` : bare);
  if (loopback || wildcard) LOOPBACK_NAMES.forEach(add);
  for (const e of extra) names.add((/:\d+$/.test(e) ? e : `${e}:${port}`).toLowerCase());
  return { names, anyIp: wildcard, port };
}

/** A short, printable excerpt of client input for an error message. */
export function excerpt(s: string, max = 60): string {
  const cut = s.length > max ? `${s.slice(0, max)}...` : s;
  return JSON.stringify(cut);
}

/** 403 unless the Host header names this server. */
export function checkHost(req: IncomingMessage, policy: HostPolicy): string {
  const host = (req.headers.host ?? '').toLowerCase();
  if (host === '') throw new HttpError(400, 'bad_host', 'the request has no Host header');
  if (policy.names.has(host)) return host;
  const m = /^(\[[0-9a-f:.]+\]|[0-9.]+):(\d+)$/.exec(host);
  if (policy.anyIp && m && isIP(m[1]!.replace(/^\[|\]$/g, '')) !== 0 && Number(m[2]) === policy.port) return host;
  throw new HttpError(403, 'bad_host', `Host ${excerpt(host)} is not this server (it answers to ${[...policy.names].join(', ')}${policy.anyIp ? ' and its IP addresses' : ''}); a page that reached it through another name is refused`);
}

/** 403 for a browser request that another site's page made. */
export function checkOrigin(req: IncomingMessage, host: string): void {
  const origin = req.headers.origin;
  if (origin !== undefined && origin.toLowerCase() !== `http://${host}`) {
    throw new HttpError(403, 'bad_origin', `a request from the page of ${excerpt(origin)} is refused: only the demo's own page (http://${host}) may call the API`);
  }
  if (req.headers['sec-fetch-site'] === 'cross-site') throw new HttpError(403, 'bad_origin', 'a request from another site is refused: only the demo\'s own page may call the API');
}

/** 415 unless the body's declared type is one of `types` (media types, or "image/*"). */
export function requireContentType(req: IncomingMessage, types: readonly string[]): void {
  const declared = (req.headers['content-type'] ?? '').split(';', 1)[0]!.trim().toLowerCase();
  const ok = types.some((t) => (t.endsWith('/*') ? declared.startsWith(t.slice(0, -1)) && declared.length > t.length - 1 : declared === t));
  if (!ok) {
    throw new HttpError(415, 'unsupported_media_type', `${declared ? `Content-Type ${excerpt(declared)}` : 'no Content-Type'}: this endpoint takes ${types.join(' or ')}`);
  }
}
