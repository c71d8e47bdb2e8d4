// Fuzzing the web demo's JSON API: valid /api/predict bodies mutated byte by byte and field by
// field (a bounded, seeded number), first straight into the request parser, then through HTTP to
// a running server. Every answer is a 2xx or a 4xx with a short JSON error, never a 5xx, a crash or
// a hang, and the server keeps serving.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Rng } from '../../../shared/random/rng.js';
import { HttpError } from '../../../tools/serve/http_error.js';
import { parsePredictRequest } from '../../../tools/serve/predict_request.js';
import { mutateBytes, mutateValue } from '../../helpers/mutate.js';
import { type ServeFixture, type TestImage, startFixtureServer, writeTestImage } from './serve_fixture.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'samlora-serve-fuzz-'));
let fx: ServeFixture;
let img: TestImage;
let imageId = '';

before(async () => {
  fx = await startFixtureServer(tmp, { maxUploadBytes: 1 << 20 });
  img = await writeTestImage(tmp);
  const up = await fetch(fx.url('/api/images'), { method: 'POST', body: img.bytes, headers: { 'content-type': 'image/png' }, signal: AbortSignal.timeout(20_000) });
  imageId = ((await up.json()) as { id: string }).id;
});
after(async () => {
  await fx?.server.close();
  rmSync(tmp, { recursive: true, force: true });
});

const MAX_ERROR_CHARS = 1000;

function seeds(): unknown[] {
  return [
    { image: imageId, box: img.box },
    { image: imageId, points: [{ x: 10, y: 12, label: 1 }, { x: 3, y: 4, label: 0 }], multimask: true },
    { image: `data:image/png;base64,${img.bytes.subarray(0, 300).toString('base64')}`, box: [1, 2, 30, 40], points: null },
  ];
}

/** A mutated body: bytes of the JSON text, or the JSON of a mutated value. */
function mutatedBody(rng: Rng, seed: unknown): Buffer {
  return rng.next() < 0.5 ? mutateBytes(Buffer.from(JSON.stringify(seed)), rng) : Buffer.from(JSON.stringify(mutateValue(seed, rng)) ?? 'null');
}

describe('the demo JSON API under fuzzing', () => {
  it('the request parser: 3000 mutated bodies, each accepted or a 4xx with a short message', () => {
    const rng = new Rng(0xf00d);
    let refused = 0;
    let slowest = 0;
    for (let i = 0; i < 3000; i++) {
      const seed = seeds()[i % 3];
      const body = mutatedBody(rng, seed);
      const t0 = performance.now();
      try {
        parsePredictRequest(body, 32);
      } catch (e) {
        assert.ok(e instanceof HttpError, `input ${i}: ${e instanceof Error ? e.stack : String(e)}`);
        assert.ok(e.status >= 400 && e.status < 500, `input ${i}: status ${e.status}`);
        assert.ok(e.message.length <= MAX_ERROR_CHARS, `input ${i}: a ${e.message.length}-character message`);
        refused++;
      }
      slowest = Math.max(slowest, performance.now() - t0);
    }
    assert.ok(refused > 1000, `only ${refused} of 3000 refused: the mutations do not bite`);
    assert.ok(slowest < 1000, `an input took ${slowest.toFixed(0)} ms`);
  });

  it('through HTTP: 150 mutated requests, never a 5xx, every error short JSON; the server still answers', async () => {
    const rng = new Rng(0xbeef);
    const statuses = new Map<number, number>();
    for (let i = 0; i < 150; i++) {
      const body = mutatedBody(rng, seeds()[i % 3]);
      const res = await fetch(fx.url('/api/predict'), { method: 'POST', body, headers: { 'content-type': 'application/json' }, signal: AbortSignal.timeout(20_000) });
      const text = await res.text();
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      assert.ok(res.status < 500, `request ${i} (${body.subarray(0, 200).toString()}): ${res.status} ${text.slice(0, 300)}`);
      if (res.status >= 400) {
        assert.ok(text.length <= MAX_ERROR_CHARS + 100, `request ${i}: a ${text.length}-character error`);
        const e = JSON.parse(text) as { error: string; code: string };
        assert.equal(typeof e.code, 'string');
      }
    }
    assert.ok((statuses.get(400) ?? 0) > 0, `statuses: ${JSON.stringify([...statuses])}`);
    const ok = await fetch(fx.url('/api/predict'), { method: 'POST', body: JSON.stringify({ image: imageId, box: img.box }), headers: { 'content-type': 'application/json' }, signal: AbortSignal.timeout(20_000) });
    assert.equal(ok.status, 200);
    await ok.text();
  });
});
