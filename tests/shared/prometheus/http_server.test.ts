// The /metrics server: what it answers, how it refuses, and a clear error when it cannot listen.

import assert from 'node:assert/strict';
import * as net from 'node:net';
import { describe, it } from 'node:test';
import { Counter, Registry } from 'prom-client';
import { MetricsListenError, startMetricsServer } from '../../../shared/prometheus/http_server.js';

function registry(): Registry {
  const r = new Registry();
  new Counter({ name: 'samlora_test_total', help: 'A test counter.', registers: [r] }).inc(3);
  return r;
}

const get = (url: string, init: RequestInit = {}): Promise<Response> => fetch(url, { ...init, signal: AbortSignal.timeout(5000) });

describe('metrics http server', () => {
  it('serves GET /metrics in the registry content type, 404 elsewhere, 405 for other methods', async () => {
    const r = registry();
    const s = await startMetricsServer({ listen: { host: '127.0.0.1', port: 0 }, source: r });
    try {
      assert.ok(s.port > 0);
      assert.equal(s.url, `http://127.0.0.1:${s.port}/metrics`);
      const ok = await get(s.url);
      assert.equal(ok.status, 200);
      assert.equal(ok.headers.get('content-type'), r.contentType);
      assert.match(await ok.text(), /^samlora_test_total 3$/m);
      const withQuery = await get(`${s.url}?x=1`);
      assert.equal(withQuery.status, 200);
      await withQuery.text();
      const missing = await get(`http://127.0.0.1:${s.port}/`);
      assert.equal(missing.status, 404);
      assert.match(await missing.text(), /\/metrics/);
      const post = await get(s.url, { method: 'POST', body: 'x' });
      assert.equal(post.status, 405);
      assert.equal(post.headers.get('allow'), 'GET, HEAD');
      await post.text();
    } finally {
      await s.close();
    }
    await s.close(); // idempotent
    await assert.rejects(get(s.url));
  });

  it('answers 500 when collecting fails', async () => {
    const s = await startMetricsServer({ listen: { host: '127.0.0.1', port: 0 }, source: { contentType: 'text/plain', metrics: () => Promise.reject(new Error('broken collector')) } });
    try {
      const res = await get(s.url);
      assert.equal(res.status, 500);
      assert.match(await res.text(), /broken collector/);
    } finally {
      await s.close();
    }
  });

  it('a taken port is a MetricsListenError naming the flag and the port', async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen({ host: '127.0.0.1', port: 0 }, resolve));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      await assert.rejects(startMetricsServer({ listen: { host: '127.0.0.1', port }, source: registry(), flag: '--metrics' }), (e: unknown) => {
        assert.ok(e instanceof MetricsListenError);
        assert.equal(e.message, `--metrics 127.0.0.1:${port}: cannot serve metrics: port ${port} is already in use on 127.0.0.1 (choose another port, or 0 for any free one)`);
        return true;
      });
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });

  it('an address this host does not have is a clear error', async () => {
    await assert.rejects(startMetricsServer({ listen: { host: '192.0.2.1', port: 0 }, source: registry() }), /--metrics 192\.0\.2\.1:0: cannot serve metrics: this host has no address 192\.0\.2\.1/);
  });
});

describe('metrics http server under slow clients', () => {
  /** A client that opens a connection and sends half a request header, then nothing. */
  const slowClient = (port: number): Promise<net.Socket> =>
    new Promise((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => {
        s.write('GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n');
        resolve(s);
      });
      s.on('error', () => undefined);
      s.once('error', reject);
      s.resume(); // read what the server answers (a 408), so that its close is seen
    });

  it('scrapes get through while 48 slow clients hold sockets, and the slow ones are closed', async () => {
    const s = await startMetricsServer({ listen: { host: '127.0.0.1', port: 0 }, source: registry() });
    const slow: net.Socket[] = [];
    try {
      for (let i = 0; i < 48; i++) slow.push(await slowClient(s.port));
      let ok = 0;
      for (let i = 0; i < 10; i++) {
        const res = await get(s.url);
        if (res.status === 200) ok++;
        await res.text();
        slow.push(await slowClient(s.port)); // the attacker keeps opening more
      }
      assert.equal(ok, 10, `${ok} of 10 scrapes answered`);
      // Every slow socket is closed by the server (pushed out or timed out), within bounded time.
      await Promise.all(
        slow.map(
          (c) =>
            new Promise<void>((resolve, reject) => {
              if (c.destroyed || c.readyState === 'closed') return resolve();
              const t = setTimeout(() => reject(new Error('a slow client was still connected after 10 s')), 10_000);
              c.once('close', () => (clearTimeout(t), resolve()));
            }),
        ),
      );
    } finally {
      for (const c of slow) c.destroy();
      await s.close();
    }
  });
});
