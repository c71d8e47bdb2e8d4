// `sam-lora serve`: it prints its address, answers, and stops cleanly on SIGTERM; usage errors exit 2,
// a LoRA that is not there exits 1 naming it; --listen forms.

import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { parseListen } from '../../bin/serve_command.js';
import { writeTinyConfig } from '../tools/evaluation/tiny_model.js';
import { repoRoot } from '../helpers/fixtures.js';

const CLI = path.join(repoRoot(), 'dist', 'bin', 'sam-lora.js');
const tmp = mkdtempSync(path.join(tmpdir(), 'samlora-servecmd-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** Resolves with the first match of `re` in the stream's text, rejects after `ms`. */
function waitFor(stream: NodeJS.ReadableStream, re: RegExp, ms: number): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`no ${re} within ${ms} ms; got: ${text}`)), ms);
    stream.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const m = re.exec(text);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    });
  });
}

describe('sam-lora serve', () => {
  it('prints its address, serves the page and the API, and exits 0 on SIGTERM', async () => {
    const config = writeTinyConfig(tmp, 'cfg');
    const child = spawn(process.execPath, [CLI, 'serve', '--config', config, '--listen', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const [line, url] = await waitFor(child.stdout, /sam-lora serve: (http:\/\/127\.0\.0\.1:\d+\/) \(([^)]*)\)/, 20_000);
      assert.match(line, /base SAM only: no --lora given/);
      const info = (await (await fetch(`${url}api/info`, { signal: AbortSignal.timeout(10_000) })).json()) as { models: unknown[] };
      assert.equal(info.models.length, 1);
      assert.equal((await fetch(url, { signal: AbortSignal.timeout(10_000) })).status, 200);
      child.kill('SIGTERM');
      const code = await Promise.race([exited, new Promise<string>((r) => setTimeout(() => r('still running 10 s after SIGTERM'), 10_000).unref())]);
      assert.equal(code, 0, stderr);
      assert.match(stderr, /GET \/api\/info 200/);
      assert.match(stderr, /SIGTERM: stopping/);
      assert.match(stderr, /stopped\n$/);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('usage errors exit 2; a missing LoRA file exits 1 naming it', () => {
    const bad = spawnSync(process.execPath, [CLI, 'serve', '--listen', 'localhost:99999'], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /^sam-lora serve: --listen takes HOST:PORT with a port in 0\.\.65535 \(got "localhost:99999"\)\n\nusage: sam-lora serve/);
    const missing = path.join(tmp, 'missing.safetensors');
    const r = spawnSync(process.execPath, [CLI, 'serve', '--config', writeTinyConfig(tmp, 'cfg2'), '--lora', missing, '--listen', '127.0.0.1:0'], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, 1);
    assert.match(r.stderr, new RegExp(`sam-lora serve: .*missing\\.safetensors`));
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  });

  it('--listen: HOST:PORT, [IPv6]:PORT, or a port alone on 127.0.0.1', () => {
    assert.deepEqual(parseListen('0.0.0.0:8080'), { host: '0.0.0.0', port: 8080 });
    assert.deepEqual(parseListen('[::1]:7860'), { host: '::1', port: 7860 });
    assert.deepEqual(parseListen('7000'), { host: '127.0.0.1', port: 7000 });
    assert.throws(() => parseListen('host:'), /--listen takes HOST:PORT/);
    assert.throws(() => parseListen('::1:80'), /--listen takes HOST:PORT/);
  });
});
