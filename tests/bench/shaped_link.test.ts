// The link model of the simulation: a token bucket paces bytes at its rate after its burst, one
// bucket shared by two links paces their sum, and bytes through a proxy arrive no sooner than
// bandwidth and latency allow (and not much later: the bound is loose for a loaded machine).

import assert from 'node:assert/strict';
import * as net from 'node:net';
import { describe, it } from 'node:test';
import { performance } from 'node:perf_hooks';
import { TokenBucket, startShapedProxy, type LinkShape } from '../../bench/shaped_link.js';

/** A server that counts the bytes it receives and resolves once `total` arrived (ms after `from`). */
async function sink(total: number, from: () => number): Promise<{ address: string; arrived: Promise<number>; close: () => void }> {
  let got = 0;
  let done!: (ms: number) => void;
  const arrived = new Promise<number>((resolve) => (done = resolve));
  const server = net.createServer((s) =>
    s.on('data', (d: Buffer) => {
      got += d.length;
      if (got >= total) done(performance.now() - from());
    }),
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { address: `127.0.0.1:${(server.address() as net.AddressInfo).port}`, arrived, close: () => server.close() };
}

function send(address: string, bytes: number): net.Socket {
  const [host, port] = address.split(':') as [string, string];
  const s = net.connect({ host, port: Number(port) });
  s.on('error', () => undefined);
  s.end(Buffer.alloc(bytes, 7));
  return s;
}

describe('bench/shaped_link', () => {
  it('a token bucket lets its burst through at once, then paces at its rate, first come first served', () => {
    const b = new TokenBucket(1000, 100);
    assert.equal(b.pass(100, 0), 0, 'a full bucket sends its burst at once');
    assert.equal(b.pass(500, 0), 500, '500 more bytes at 1000 B/s');
    assert.equal(b.pass(500, 100), 1000, 'queued behind the first');
    // Idle long enough: full again.
    assert.equal(b.pass(100, 5000), 5000);
    assert.equal(b.bytes, 1200);
    assert.equal(new TokenBucket(Number.POSITIVE_INFINITY).pass(1e12, 7), 7, 'an unlimited bucket never delays');
    assert.throws(() => new TokenBucket(0), /bandwidth above 0/);
  });

  it('delivers bytes through a proxy in bytes / bandwidth + latency', { timeout: 30_000 }, async () => {
    const bytes = 4_000_000;
    const rate = 40_000_000; // 40 MB/s: 100 ms for the payload
    const latencyMs = 30;
    let t0 = 0;
    const server = await sink(bytes, () => t0);
    const shape: LinkShape = { up: [new TokenBucket(rate)], down: [new TokenBucket(rate)], latencyMs };
    const proxy = await startShapedProxy(server.address, shape);
    try {
      t0 = performance.now();
      send(proxy.address, bytes);
      const ms = await server.arrived;
      const expected = (bytes / rate) * 1000 + latencyMs;
      assert.ok(ms >= expected - 3, `arrived after ${ms.toFixed(1)} ms, sooner than ${expected} ms allow`);
      assert.ok(ms < 2 * expected + 100, `arrived after ${ms.toFixed(1)} ms, expected about ${expected} ms`);
      assert.equal(shape.up[0]!.bytes, bytes, 'every byte crossed the bucket once');
    } finally {
      await proxy.close();
      server.close();
    }
  });

  it('two links through one bucket (a shared NIC) share its bandwidth', { timeout: 30_000 }, async () => {
    const bytes = 2_000_000;
    const rate = 40_000_000; // both payloads: 100 ms
    let t0 = 0;
    const servers = [await sink(bytes, () => t0), await sink(bytes, () => t0)];
    const shared = new TokenBucket(rate);
    const proxies = await Promise.all(servers.map((s) => startShapedProxy(s.address, { up: [new TokenBucket(Number.POSITIVE_INFINITY), shared], down: [], latencyMs: 0 })));
    try {
      t0 = performance.now();
      for (const p of proxies) send(p.address, bytes);
      const last = Math.max(...(await Promise.all(servers.map((s) => s.arrived))));
      const expected = ((2 * bytes) / rate) * 1000;
      assert.ok(last >= expected - 3, `both arrived after ${last.toFixed(1)} ms: the shared bucket let more than its rate through`);
      assert.ok(last < 2 * expected + 100, `both arrived after ${last.toFixed(1)} ms, expected about ${expected} ms`);
    } finally {
      await Promise.all(proxies.map((p) => p.close()));
      for (const s of servers) s.close();
    }
  });
});
