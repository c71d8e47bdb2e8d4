// The web demo's JSON API on the tiny generated model with a LoRA: an image and a box give both
// models' masks at the image's size, the encoder runs once per image, and bad input of every kind
// is a 4xx naming what is wrong while the server keeps serving.

import assert from 'node:assert/strict';
import { request } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import type { ErrorBody } from '../../../tools/serve/http_error.js';
import type { ImageSummary, PredictResponse } from '../../../tools/serve/segmenter.js';
import type { ServerInfo } from '../../../tools/serve/server.js';
import { type ServeFixture, type TestImage, startFixtureServer, writeTestImage } from './serve_fixture.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'samlora-serve-'));
let fx: ServeFixture;
let img: TestImage;

before(async () => {
  fx = await startFixtureServer(tmp, { maxUploadBytes: 256 * 1024, limits: { maxPixels: 120 * 120, cacheImages: 2 } });
  img = await writeTestImage(tmp);
});
after(async () => {
  await fx?.server.close();
  rmSync(tmp, { recursive: true, force: true });
});

async function call<T>(method: string, p: string, body?: Buffer | string, headers: Record<string, string> = {}): Promise<{ status: number; json: T; headers: Headers }> {
  const res = await fetch(fx.url(p), { method, body, headers, signal: AbortSignal.timeout(20_000) });
  const text = await res.text();
  return { status: res.status, json: JSON.parse(text) as T, headers: res.headers };
}

const upload = (bytes: Buffer | string) => call<ImageSummary>('POST', '/api/images', bytes, { 'Content-Type': 'application/octet-stream' });
const predict = (body: unknown) => call<PredictResponse>('POST', '/api/predict', typeof body === 'string' ? body : JSON.stringify(body), { 'Content-Type': 'application/json' });

async function expectError(r: Promise<{ status: number; json: unknown }>, status: number, code: string, message: RegExp): Promise<void> {
  const { status: got, json } = await r;
  const e = json as ErrorBody;
  assert.equal(got, status, JSON.stringify(json));
  assert.equal(e.code, code);
  assert.match(e.error, message);
}

/** Mask pixels (value 255) inside and outside a box. */
async function maskCounts(dataUrl: string, box: readonly number[]): Promise<{ width: number; height: number; inside: number; outside: number }> {
  assert.match(dataUrl, /^data:image\/png;base64,/);
  const png = Buffer.from(dataUrl.split(',')[1]!, 'base64');
  assert.equal((await sharp(png).metadata()).channels, 1, 'a grey PNG');
  const { data, info } = await sharp(png).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
  let inside = 0;
  let outside = 0;
  for (let y = 0; y < info.height; y++) {
    for (let x = 0; x < info.width; x++) {
      const v = data[y * info.width + x]!;
      assert.ok(v === 0 || v === 255, `binary mask, got ${v}`);
      if (!v) continue;
      if (x >= box[0]! && x <= box[2]! && y >= box[1]! && y <= box[3]!) inside++;
      else outside++;
    }
  }
  return { width: info.width, height: info.height, inside, outside };
}

describe('sam-lora serve API', () => {
  it('GET /api/info: the variant, the weights, both models, the limits', async () => {
    const { status, json } = await call<ServerInfo>('GET', '/api/info');
    assert.equal(status, 200);
    assert.match(json.variant, /^custom \(dim 32, depth 2, 64 px\)$/);
    assert.equal(json.img, 64);
    assert.match(json.weights, /generated weights/);
    assert.deepEqual(
      json.models.map((m) => [m.name, m.lora]),
      [
        ['base', null],
        ['lora', path.basename(path.dirname(fx.loraFile!)) + '/' + path.basename(fx.loraFile!)],
      ],
    );
    assert.ok(!JSON.stringify(json).includes(tmp), '/api/info shows no absolute path');
    assert.equal(json.models[1]!.spec!.rank, 4);
    assert.deepEqual(json.limits, { maxUploadBytes: 256 * 1024, maxPixels: 120 * 120, maxPoints: 32, cacheImages: 2, maxWaiting: 8 });
  });

  it('an image and a box: both masks at the image size, non-empty inside the box; the encoder runs once', async () => {
    const up = await upload(img.bytes);
    assert.equal(up.status, 200);
    assert.deepEqual([up.json.width, up.json.height, up.json.encoded], [img.width, img.height, true]);
    assert.match(up.json.id, /^[0-9a-f]{64}$/);

    const first = await predict({ image: up.json.id, box: img.box });
    assert.equal(first.status, 200, JSON.stringify(first.json));
    assert.equal(first.json.image.encoded, false, 'the upload encoded it');
    assert.deepEqual(
      first.json.results.map((r) => r.model),
      ['base', 'lora'],
    );
    for (const r of first.json.results) {
      const c = await maskCounts(r.mask, img.box);
      assert.deepEqual([c.width, c.height], [img.width, img.height], r.model);
      assert.ok(c.inside > 0, `${r.model}: mask empty inside the box`);
      assert.equal(c.inside + c.outside, r.area);
      assert.ok(Number.isFinite(r.iou) && r.ious.length === 1 && r.ious[0] === r.iou);
    }
    // The LoRA changes the encoder, so its mask differs from the base model's.
    assert.notEqual(first.json.results[0]!.mask, first.json.results[1]!.mask);

    // Same bytes again: no encoder run; points and multimask on the cached embeddings.
    const again = await upload(img.bytes);
    assert.deepEqual([again.json.id, again.json.encoded], [up.json.id, false]);
    const cx = (img.box[0] + img.box[2]) / 2;
    const cy = (img.box[1] + img.box[3]) / 2;
    const points = await predict({ image: up.json.id, points: [{ x: cx, y: cy }, { x: 0, y: 0, label: 0 }], multimask: true });
    assert.equal(points.status, 200, JSON.stringify(points.json));
    for (const r of points.json.results) {
      assert.equal(r.ious.length, 3);
      assert.equal(r.iou, Math.max(...r.ious));
    }
  });

  it('the image inline as base64 (one request): encoded on the way, then cached', async () => {
    const other = await writeTestImage(tmp, 80, 2);
    const inline = await predict({ image: `data:image/png;base64,${other.bytes.toString('base64')}`, box: other.box });
    assert.equal(inline.status, 200, JSON.stringify(inline.json));
    assert.deepEqual([inline.json.image.width, inline.json.image.encoded], [80, true]);
    const plain = await predict({ image: other.bytes.toString('base64'), box: other.box });
    assert.equal(plain.json.image.encoded, false);
    assert.equal(plain.json.results[0]!.mask, inline.json.results[0]!.mask);
  });

  it('bad uploads: 413 too large, 415 not an image, 422 truncated or too many pixels, 400 empty', async () => {
    await expectError(upload(Buffer.alloc(300 * 1024, 7)), 413, 'payload_too_large', /the image \(300 KB\) is larger than the server's limit of 256 KB/);
    // Streamed without a length: refused once past the limit, and the client still reads the 413.
    const streamed = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(fx.url('/api/images'), { method: 'POST', headers: { 'Transfer-Encoding': 'chunked', 'Content-Type': 'application/octet-stream' } }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      });
      req.on('error', reject);
      for (let i = 0; i < 5; i++) req.write(Buffer.alloc(64 * 1024, i));
      req.end();
    });
    assert.equal(streamed.status, 413);
    assert.match(streamed.body, /larger than the server's limit/);

    // A client that goes away mid-body does not disturb the server (the next requests are answered).
    await new Promise<void>((resolve) => {
      const req = request(fx.url('/api/images'), { method: 'POST', headers: { 'Content-Length': '100000', 'Content-Type': 'application/octet-stream' } });
      req.on('error', () => resolve());
      req.write(Buffer.alloc(1000), () => {
        req.destroy();
        resolve();
      });
    });

    await expectError(upload('this is not an image'), 415, 'unsupported_image', /not a supported image.*not JPEG, PNG/);
    await expectError(upload(img.bytes.subarray(0, 200)), 422, 'bad_image', /cannot decode image \(PNG\).*cut short/);
    const big = await sharp({ create: { width: 130, height: 120, channels: 3, background: '#808080' } }).png().toBuffer();
    await expectError(upload(big), 422, 'image_too_large', /is 130 x 120 px \(0\.02 megapixels\); the server accepts at most 0\.01 megapixels/);
    await expectError(upload(''), 400, 'empty_body', /empty/);
  });

  it('bad predict requests: 400 malformed JSON or fields, 422 prompt outside the image, 404 unknown image', async () => {
    const { json: up } = await upload(img.bytes);
    const W = img.width;
    await expectError(predict('{"image": '), 400, 'bad_json', /not valid JSON/);
    await expectError(predict('[1, 2]'), 400, 'bad_json', /must be a JSON object/);
    await expectError(predict(''), 400, 'empty_body', /empty/);
    await expectError(predict({ box: [1, 2, 3, 4] }), 400, 'bad_request', /missing "image"/);
    await expectError(predict({ image: up.id, boxes: [1, 2, 3, 4] }), 400, 'bad_request', /unknown field "boxes"/);
    await expectError(predict({ image: up.id, box: [1, 2, 3] }), 400, 'bad_request', /"box" must be \[x0, y0, x1, y1\]/);
    await expectError(predict({ image: up.id, box: [1, 2, 'x', 4] }), 400, 'bad_request', /four finite numbers/);
    await expectError(predict({ image: up.id, points: [{ x: 1 }] }), 400, 'bad_request', /points\[0\] must be/);
    await expectError(predict({ image: up.id, points: [{ x: 1, y: 1, label: 2 }] }), 400, 'bad_request', /points\[0\]\.label must be 1 \(positive\) or 0/);
    await expectError(predict({ image: up.id, multimask: 'yes' }), 400, 'bad_request', /"multimask" must be true or false/);
    await expectError(predict({ image: up.id }), 400, 'bad_prompt', /no prompt/);
    await expectError(predict({ image: 'not base64!', box: [1, 1, 2, 2] }), 400, 'bad_request', /neither an image id/);
    await expectError(predict({ image: up.id, box: [0, 0, W + 10, 20] }), 422, 'bad_prompt', new RegExp(`box 0,0,${W + 10},20 lies outside the image: the image is ${W} x ${W} px`));
    await expectError(predict({ image: up.id, box: [30, 30, 10, 10] }), 422, 'bad_prompt', /x0 <= x1/);
    await expectError(predict({ image: up.id, points: [{ x: -1, y: 5 }] }), 422, 'bad_prompt', /point -1,5 lies outside the image/);
    await expectError(predict({ image: 'f'.repeat(64), box: [1, 1, 2, 2] }), 404, 'unknown_image', /upload it again/);
    await expectError(predict({ image: Buffer.from('not an image').toString('base64'), box: [1, 1, 2, 2] }), 415, 'unsupported_image', /not a supported image/);
  });

  it('wrong routes and methods: 404 and 405 as JSON; the server still serves afterwards', async () => {
    await expectError(call('GET', '/api/nope'), 404, 'not_found', /no API endpoint \/api\/nope/);
    const r = await call<ErrorBody>('GET', '/api/predict');
    assert.equal(r.status, 405);
    assert.equal(r.headers.get('allow'), 'POST');
    await expectError(call('DELETE', '/api/info'), 405, 'method_not_allowed', /DELETE is not allowed on \/api\/info/);
    const page = await fetch(fx.url('/'));
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type')!, /text\/html/);
    assert.match(page.headers.get('content-security-policy')!, /default-src 'self'/);
    assert.match(await page.text(), /<script type="module" src="app.js"><\/script>/);
    assert.equal((await fetch(fx.url('/app.js'))).headers.get('content-type'), 'text/javascript; charset=utf-8');
    assert.equal((await fetch(fx.url('/../package.json'))).status, 404);
    assert.equal((await fetch(fx.url('/%2e%2e/package.json'))).status, 404);

    // After all of the above, and a burst of requests at once: every one answered, in order.
    const { json: up } = await upload(img.bytes);
    const burst = await Promise.all(Array.from({ length: 5 }, (_, i) => predict({ image: up.id, box: [i, i, img.width - i, img.height - i] })));
    assert.deepEqual(
      burst.map((b) => b.status),
      [200, 200, 200, 200, 200],
    );
  });

  it('an image dropped from the cache is unknown (404) until uploaded again', async () => {
    const { json: a } = await upload(img.bytes);
    for (const i of [3, 4]) await upload((await writeTestImage(tmp, 64, i)).bytes);
    await expectError(predict({ image: a.id, box: img.box }), 404, 'unknown_image', /cache of 2/);
    const re = await upload(img.bytes);
    assert.equal(re.json.encoded, true);
    assert.equal((await predict({ image: a.id, box: img.box })).status, 200);
  });
});
