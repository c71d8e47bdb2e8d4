// The web demo against requests a local tool must not obey: another site's page (DNS rebinding, a
// cross-site form), bodies without a JSON type, deeply nested or huge JSON, slow uploads that would
// hold every request slot, and slow headers. Each is refused with a clear 4xx in bounded time, and
// the server keeps answering honest requests.

import assert from 'node:assert/strict';
import { type IncomingHttpHeaders, request } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ErrorBody } from '../../../tools/serve/http_error.js';
import { MAX_JSON_DEPTH, excerptJson } from '../../../tools/serve/predict_request.js';
import { type ServeFixture, type TestImage, startFixtureServer, writeTestImage } from './serve_fixture.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'samlora-serve-hostile-'));
let fx: ServeFixture;
let img: TestImage;
let port = 0;

before(async () => {
  fx = await startFixtureServer(tmp, { maxUploadBytes: 1 << 20, bodyTimeouts: { idleMs: 400, totalMs: 1500 } });
  img = await writeTestImage(tmp);
  port = fx.server.port;
});
after(async () => {
  await fx?.server.close();
  rmSync(tmp, { recursive: true, force: true });
});

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  json: ErrorBody & Record<string, unknown>;
  text: string;
}

/** A request with exactly these headers (fetch will not send a foreign Host). */
function send(method: string, p: string, headers: Record<string, string>, body?: Buffer | string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path: p, headers: { host: `127.0.0.1:${port}`, ...headers }, timeout: 10_000 }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, json: (text ? JSON.parse(text) : {}) as Answer['json'], text }));
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 10 s')));
    req.on('error', reject);
    req.end(body);
  });
}

const json = { 'content-type': 'application/json' };

describe('web demo: requests from elsewhere', () => {
  it('a Host that is not the listen address is refused, /api/info included (DNS rebinding)', async () => {
    const rebound = await send('GET', '/api/info', { host: `attacker.example:${port}` });
    assert.equal(rebound.status, 403);
    assert.equal(rebound.json.code, 'bad_host');
    assert.match(rebound.json.error, /Host "attacker\.example:\d+" is not this server/);
    assert.equal((await send('GET', '/', { host: `attacker.example:${port}` })).status, 403, 'the page too');
    assert.equal((await send('GET', '/api/info', { host: `127.0.0.1:${port + 1}` })).status, 403, 'another port');
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]) assert.equal((await send('GET', '/api/info', { host })).status, 200, host);
    const info = await send('GET', '/api/info', {});
    assert.ok(!info.text.includes(tmp), `no absolute path in /api/info: ${info.text}`);
  });

  it("a POST from another site's page is refused; the demo's own page and non-browser clients are not", async () => {
    const body = JSON.stringify({ image: 'x', box: [0, 0, 1, 1] });
    const cross = await send('POST', '/api/predict', { ...json, origin: 'http://evil.example' }, body);
    assert.equal(cross.status, 403);
    assert.equal(cross.json.code, 'bad_origin');
    assert.match(cross.json.error, /"http:\/\/evil\.example" is refused/);
    assert.equal((await send('POST', '/api/predict', { ...json, origin: 'null' }, body)).status, 403);
    assert.equal((await send('POST', '/api/images', { 'content-type': 'image/png', 'sec-fetch-site': 'cross-site' }, img.bytes)).status, 403);
    const own = await send('POST', '/api/images', { 'content-type': 'image/png', origin: `http://127.0.0.1:${port}`, 'sec-fetch-site': 'same-origin' }, img.bytes);
    assert.equal(own.status, 200, own.text);
    assert.equal((await send('POST', '/api/images', { 'content-type': 'application/octet-stream' }, img.bytes)).status, 200, 'curl-like client');
  });

  it('bodies must declare their type: a form post (text/plain, urlencoded) is a 415', async () => {
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', '']) {
      const headers: Record<string, string> = type ? { 'content-type': type } : {};
      const p = await send('POST', '/api/predict', headers, '{"image": "x", "box": [0, 0, 1, 1]}');
      assert.equal(p.status, 415, `${type}: ${p.text}`);
      assert.equal(p.json.code, 'unsupported_media_type');
      assert.match(p.json.error, /takes application\/json/);
      assert.equal((await send('POST', '/api/images', headers, img.bytes)).status, 415, type);
    }
  });
});

describe('web demo: hostile JSON', () => {
  it('deeply nested JSON is a 400 saying so, not a 500', async () => {
    for (const body of ['['.repeat(100_000), `{"points": ${'['.repeat(5000)}1${']'.repeat(5000)}}`, `{"image": "x", "box": ${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}}`]) {
      const r = await send('POST', '/api/predict', json, body);
      assert.equal(r.status, 400, r.text.slice(0, 200));
      assert.equal(r.json.code, 'bad_json');
      assert.match(r.json.error, new RegExp(`deeper than ${MAX_JSON_DEPTH} levels`));
    }
    // Nesting just within the limit reaches the field checks, whose message quotes a short prefix.
    const nested = `{"image": "x", "box": ${'['.repeat(MAX_JSON_DEPTH - 1)}${']'.repeat(MAX_JSON_DEPTH - 1)}}`;
    const r = await send('POST', '/api/predict', json, nested);
    assert.equal(r.status, 400);
    assert.match(r.json.error, /"box" must be \[x0, y0, x1, y1\]/);
  });

  it('error messages quote at most a short prefix of bad input', async () => {
    const huge = 'A'.repeat(600_000);
    for (const body of [{ image: 'x', box: [huge, 1, 2, 3] }, { image: 'x', points: [{ x: huge, y: 1 }] }, { image: 'x', points: huge }, { image: 'x', [huge]: 1 }]) {
      const r = await send('POST', '/api/predict', json, JSON.stringify(body));
      assert.equal(r.status, 400, r.text.slice(0, 200));
      assert.ok(r.text.length < 500, `a ${r.text.length}-character error for a ${huge.length}-character field`);
    }
    const broken = await send('POST', '/api/predict', json, `{"image": "${huge}`);
    assert.equal(broken.json.code, 'bad_json');
    assert.ok(broken.text.length < 500, `a ${broken.text.length}-character error for broken JSON`);
  });

  it('excerptJson is bounded for any value', () => {
    assert.equal(excerptJson([1, 2, 3]), '[1, 2, 3]');
    assert.equal(excerptJson({ a: 'b' }), '{"a": "b"}');
    assert.equal(excerptJson(undefined), 'undefined');
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    assert.equal(excerptJson(deep), '[[[[...]]]]');
    assert.ok(excerptJson(new Array(1e5).fill('xxxxxxxx')).length <= 63);
  });
});

describe('web demo: slow clients', () => {
  /** Starts an upload that sends its headers and a few bytes, then stalls. */
  const stalledUpload = (): Promise<{ status: number; ms: number }> =>
    new Promise((resolve, reject) => {
      const t0 = performance.now();
      const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/api/images', headers: { 'content-type': 'image/png', 'content-length': '500000' } }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode!, ms: performance.now() - t0 }));
      });
      req.on('error', reject);
      req.write(Buffer.alloc(100));
    });

  it('stalled uploads are answered 408 and no longer hold the request slots', async () => {
    // More stalled uploads than the server has request slots (maxWaiting 8 + 1).
    const stalled = Array.from({ length: 12 }, stalledUpload);
    const answers = await Promise.all(stalled);
    for (const a of answers) {
      assert.ok(a.status === 408 || a.status === 503, `status ${a.status}`);
      assert.ok(a.ms < 5000, `answered after ${a.ms} ms`);
    }
    assert.ok(answers.some((a) => a.status === 408));
    const honest = await send('POST', '/api/images', { 'content-type': 'image/png' }, img.bytes);
    assert.equal(honest.status, 200, honest.text);
  });

  it('an upload that trickles in past the total body time is a 408', async () => {
    const t0 = performance.now();
    const status = await new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/api/images', headers: { 'content-type': 'image/png', 'content-length': '500000' } }, (res) => {
        clearInterval(drip);
        res.resume();
        resolve(res.statusCode!);
      });
      req.on('error', () => undefined);
      const drip = setInterval(() => req.write(Buffer.alloc(10)), 100);
      req.on('close', () => clearInterval(drip));
      setTimeout(() => reject(new Error('no answer within 8 s')), 8000).unref();
    });
    assert.equal(status, 408);
    assert.ok(performance.now() - t0 < 5000);
  });

  it('a client that never finishes its headers is disconnected', async () => {
    const t0 = performance.now();
    await new Promise<void>((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port }, () => s.write(`GET /api/info HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n`));
      s.on('error', () => undefined);
      s.resume();
      s.on('close', () => resolve());
      setTimeout(() => (s.destroy(), reject(new Error('still connected after 20 s'))), 20_000).unref();
    });
    assert.ok(performance.now() - t0 < 20_000);
  });
});
