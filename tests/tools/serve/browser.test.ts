// The web demo's page in a real browser: headless Chromium (the system's /usr/bin/chromium, driven by
// playwright-core; no browser is downloaded). Upload through the file input, drag a box with the
// mouse, and read each model's mask canvas in the page: non-transparent pixels inside the box.
// Set SAMLORA_SCREENSHOT=FILE to keep a screenshot with the box and both overlays.
//
// Without Chromium the test is skipped with a message, except under CI (the CI variable set), where
// it fails: .ci/run installs Chromium, so a missing one there is a broken setup, not a skip.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type BrowserContext, type Page, chromium } from 'playwright-core';
import { type ServeFixture, type TestImage, startFixtureServer, writeTestImage } from './serve_fixture.js';

// The few DOM shapes the functions run in the page use (the project compiles without lib.dom; a
// module-scoped declaration keeps them out of every other file).
interface PageElement {
  dataset: Record<string, string | undefined>;
  textContent: string | null;
}
interface PageCanvas extends PageElement {
  width: number;
  height: number;
  getContext(kind: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } } | null;
}
declare const document: {
  querySelector(selector: string): PageElement | null;
  querySelectorAll<T extends PageElement = PageElement>(selector: string): Iterable<T>;
};

// SAMLORA_CHROMIUM points elsewhere (another system's Chromium or Chrome).
const CHROMIUM = process.env.SAMLORA_CHROMIUM ?? '/usr/bin/chromium';
const MISSING = `Chromium not found at ${CHROMIUM}: install it with apt-get install -y chromium (.ci/run does this) or set SAMLORA_CHROMIUM`;
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

const tmp = mkdtempSync(path.join(tmpdir(), 'samlora-browser-'));
const haveChromium = existsSync(CHROMIUM);
let withLora: ServeFixture | undefined;
let baseOnly: ServeFixture | undefined;
let context: BrowserContext | undefined;
let img: TestImage;

before(async () => {
  if (!haveChromium) return;
  [withLora, baseOnly] = await Promise.all([startFixtureServer(path.join(tmp, 'lora')), startFixtureServer(path.join(tmp, 'base'), { lora: false })]);
  img = await writeTestImage(tmp, 240, 1);
  // A persistent context on a fresh directory: Playwright refuses --user-data-dir in args.
  context = await chromium.launchPersistentContext(path.join(tmp, 'profile'), {
    executablePath: CHROMIUM,
    headless: true,
    args: ARGS,
    viewport: { width: 1280, height: 760 },
    timeout: 20_000,
  });
  context.setDefaultTimeout(10_000);
});

after(async () => {
  await context?.close();
  await Promise.all([withLora?.server.close(), baseOnly?.server.close()]);
  rmSync(tmp, { recursive: true, force: true });
});

/** Mask pixels with any opacity, inside and outside a box in image pixels, per model. */
function maskPixels(page: Page, box: readonly number[]): Promise<Record<string, { inside: number; outside: number }>> {
  return page.evaluate((b) => {
    const out: Record<string, { inside: number; outside: number }> = {};
    for (const c of document.querySelectorAll<PageCanvas>('canvas.mask')) {
      const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      let inside = 0;
      let outside = 0;
      for (let y = 0; y < c.height; y++) {
        for (let x = 0; x < c.width; x++) {
          if (d[4 * (y * c.width + x) + 3] === 0) continue;
          if (x >= b[0]! && x <= b[2]! && y >= b[1]! && y <= b[3]!) inside++;
          else outside++;
        }
      }
      out[c.dataset.model!] = { inside, outside };
    }
    return out;
  }, box);
}

/** Image pixel -> page (CSS) pixel on a panel's drawing surface. */
async function toPage(page: Page, model: string, x: number, y: number): Promise<[number, number]> {
  const r = (await page.locator(`.panel[data-model="${model}"] canvas.prompt`).boundingBox())!;
  return [r.x + (x / img.width) * r.width, r.y + (y / img.height) * r.height];
}

const allDone = (page: Page): Promise<unknown> => page.waitForFunction(() => [...document.querySelectorAll('.panel')].every((p) => p.dataset.state === 'done'));

describe('sam-lora serve page (headless Chromium)', () => {
  it('upload, drag a box: both models\' masks appear inside it; points, clear, errors on the page', async (t) => {
    if (!haveChromium) {
      if (process.env.CI) assert.fail(MISSING);
      t.skip(`${MISSING}; skipped (set CI=1 to make this a failure)`);
      return;
    }
    const page = await context!.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error' && /Content Security Policy/i.test(m.text())) pageErrors.push(m.text());
    });
    await page.goto(withLora!.server.url);
    await page.waitForSelector('body[data-ready="true"]');
    assert.equal(await page.locator('.panel').count(), 2);
    assert.match((await page.locator('.panel[data-model="lora"] .title').textContent())!, /^LoRA: .*lora\.safetensors$/);
    assert.ok(await page.locator('#note').isHidden());

    // Not an image: the server's reason is shown on the page.
    await page.setInputFiles('#file', { name: 'notes.png', mimeType: 'image/png', buffer: Buffer.from('not really a PNG') });
    await page.waitForSelector('#error:not([hidden])');
    assert.match((await page.locator('#error').textContent())!, /not a supported image/);

    // The image, then a box dragged on the base panel.
    await page.setInputFiles('#file', img.file);
    await page.waitForFunction(() => /Drag a box/.test(document.querySelector('#status')!.textContent!));
    assert.ok(await page.locator('#error').isHidden());
    const [x0, y0] = await toPage(page, 'base', img.box[0], img.box[1]);
    const [x1, y1] = await toPage(page, 'base', img.box[2], img.box[3]);
    await page.mouse.move(x0, y0);
    await page.mouse.down();
    await page.mouse.move(x1, y1, { steps: 8 });
    await page.mouse.up();
    await allDone(page);
    const masks = await maskPixels(page, img.box);
    assert.deepEqual(Object.keys(masks).sort(), ['base', 'lora']);
    for (const [model, m] of Object.entries(masks)) assert.ok(m.inside > 0, `${model}: no mask pixel inside the box (${JSON.stringify(m)})`);
    for (const model of ['base', 'lora']) assert.match((await page.locator(`.panel[data-model="${model}"] .iou`).textContent())!, /^predicted IoU -?\d\.\d{3} · [\d,]+ px$/);
    assert.ok(await page.locator('#error').isHidden());
    if (process.env.SAMLORA_SCREENSHOT) await page.screenshot({ path: process.env.SAMLORA_SCREENSHOT, fullPage: true });

    // A negative point (shift-click) on the LoRA panel: a new prediction with the box and the point.
    const answered = page.waitForResponse((r) => r.url().endsWith('/api/predict'));
    await page.keyboard.down('Shift');
    await page.mouse.click(...(await toPage(page, 'lora', 5, 5)));
    await page.keyboard.up('Shift');
    const body = (await (await answered).request().postDataJSON()) as { box: number[]; points: { x: number; y: number; label: number }[] };
    assert.equal(body.points.length, 1);
    assert.equal(body.points[0]!.label, 0);
    assert.ok(Math.abs(body.points[0]!.x - 5) <= 1 && Math.abs(body.points[0]!.y - 5) <= 1, JSON.stringify(body.points));
    assert.ok(body.box.every((v, i) => Math.abs(v - img.box[i]!) <= 2), `box ${body.box} vs ${img.box}`);
    await allDone(page);

    // Clear: no prompt, no masks.
    await page.click('#clear');
    await page.waitForFunction(() => [...document.querySelectorAll('.panel')].every((p) => p.dataset.state === 'ready'));
    assert.deepEqual(Object.values(await maskPixels(page, img.box)), [
      { inside: 0, outside: 0 },
      { inside: 0, outside: 0 },
    ]);
    assert.deepEqual(pageErrors, []);
    await page.close();
  });

  it('without --lora: one panel, and the page says so', async (t) => {
    if (!haveChromium) {
      if (process.env.CI) assert.fail(MISSING);
      t.skip(`${MISSING}; skipped (set CI=1 to make this a failure)`);
      return;
    }
    const page = await context!.newPage();
    await page.goto(baseOnly!.server.url);
    await page.waitForSelector('body[data-ready="true"]');
    assert.equal(await page.locator('.panel').count(), 1);
    assert.match((await page.locator('#note').textContent())!, /without --lora\): only the base model is shown/);
    assert.ok(await page.locator('#note').isVisible());
    await page.close();
  });
});
