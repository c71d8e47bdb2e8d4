// The HTTP/2 windows of the tensor streams: the server hook must find grpc-js's listeners (it uses
// an internal of the pinned version) and every accepted session must advertise the wide window.

import assert from 'node:assert/strict';
import * as http2 from 'node:http2';
import { describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { FLOW_CONTROL_WINDOW_BYTES, clientFlowControlOptions, widenServerWindows } from '../../shared/wire/flow_control.js';

describe('flow control windows', () => {
  it('a server session advertises the wide initial window to its client', async () => {
    const server = new grpc.Server();
    const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
    try {
      assert.equal(widenServerWindows(server), true, 'grpc-js internals moved: update shared/wire/flow_control.ts');
      const client = http2.connect(`http://127.0.0.1:${port}`);
      client.on('error', () => undefined);
      const window = await new Promise<number | undefined>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no SETTINGS with the wide window within 5 s')), 5000);
        client.on('remoteSettings', (s) => {
          if (s.initialWindowSize === FLOW_CONTROL_WINDOW_BYTES) {
            clearTimeout(timer);
            resolve(s.initialWindowSize);
          }
        });
      });
      assert.equal(window, FLOW_CONTROL_WINDOW_BYTES);
      client.destroy();
    } finally {
      server.forceShutdown();
    }
  });

  it('a server without bound listeners is reported, not silently skipped', () => {
    assert.equal(widenServerWindows(new grpc.Server()), false);
  });

  it('clients ask for the same window through the documented grpc-js option', () => {
    assert.deepEqual(clientFlowControlOptions(), { 'grpc-node.flow_control_window': FLOW_CONTROL_WINDOW_BYTES });
  });
});
