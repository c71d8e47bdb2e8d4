// HTTP/2 flow-control windows for tensor streams. HTTP/2 starts every connection and stream with a
// 64 KiB window: a sender may have only that much unacknowledged data in flight, so a 9 MiB gradient
// crosses in ~150 round trips of WINDOW_UPDATE, each waiting on the receiver's event loop (measured:
// bench/comm_overhead.ts, one worker, rank 64: broadcast 73 -> 42 ms with a 16 MiB client window).
// Both sides therefore advertise a window as large as the message limit.
//
// Clients: grpc-js's documented channel option. Servers: grpc-js has no option for it, so each new
// HTTP/2 session of the server gets the window through Node's http2 API; reaching the server's
// HTTP/2 listeners uses a grpc-js internal (`http2Servers`), checked by a test against the pinned
// grpc-js version so an upgrade that moves it fails loudly instead of silently slowing down.

import type * as grpc from '@grpc/grpc-js';
import type { Http2Server, Http2SecureServer, ServerHttp2Session } from 'node:http2';

/** Window both sides advertise, in bytes (per stream and per connection). */
export const FLOW_CONTROL_WINDOW_BYTES = 16 * 1024 * 1024;

/** Channel options for a client (spread them in). */
export function clientFlowControlOptions(bytes = FLOW_CONTROL_WINDOW_BYTES): { 'grpc-node.flow_control_window': number } {
  return { 'grpc-node.flow_control_window': bytes };
}

interface ServerInternals {
  http2Servers?: Map<Http2Server | Http2SecureServer, unknown>;
}

/**
 * Makes every HTTP/2 session the server accepts from now on advertise `bytes` of window (call after
 * bindAsync). Returns false when the grpc-js internals it needs are not there (windows stay at the
 * HTTP/2 default: slower, still correct).
 */
export function widenServerWindows(server: grpc.Server, bytes = FLOW_CONTROL_WINDOW_BYTES): boolean {
  const listeners = (server as unknown as ServerInternals).http2Servers;
  if (!(listeners instanceof Map) || listeners.size === 0) return false;
  for (const http2Server of listeners.keys()) {
    http2Server.on('session', (session: ServerHttp2Session) => {
      try {
        session.settings({ initialWindowSize: bytes });
        session.setLocalWindowSize(bytes);
      } catch {
        // A session closing as it opens: nothing to widen.
      }
    });
  }
  return true;
}
