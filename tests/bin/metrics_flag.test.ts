// `--metrics HOST:PORT` on train, coordinator and worker: a malformed address is a usage error
// (exit 2), a port already taken a clear failure naming the flag (exit 1), before any work starts.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { repoRoot } from '../helpers/fixtures.js';

const CLI = path.join(repoRoot(), 'dist', 'bin', 'sam-lora.js');
const tmp = mkdtempSync(path.join(tmpdir(), 'samlora-mflag-'));
const blocker = net.createServer();
let taken = 0;

before(async () => {
  await new Promise<void>((resolve) => blocker.listen({ host: '127.0.0.1', port: 0 }, resolve));
  taken = (blocker.address() as net.AddressInfo).port;
});
after(async () => {
  await new Promise<void>((resolve) => blocker.close(() => resolve()));
  rmSync(tmp, { recursive: true, force: true });
});

/** Runs the CLI (async: the blocking port must keep its listener); bounded. */
function cli(args: string[]): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const env = { ...process.env, SAMLORA_TOKEN: 'flag-test-token-0123456789' };
    const c = spawn(process.execPath, [CLI, ...args], { cwd: tmp, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    c.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const kill = setTimeout(() => c.kill('SIGKILL'), 60_000);
    c.on('exit', (status) => {
      clearTimeout(kill);
      resolve({ status, stderr });
    });
  });
}

const commands: Record<string, string[]> = {
  train: ['train', '--run-dir', path.join(tmp, 'run'), '--no-dashboard'],
  coordinator: ['coordinator', '--listen', '127.0.0.1:0', '--run-dir', path.join(tmp, 'crun'), '--no-dashboard'],
  worker: ['worker', '--coordinator', '127.0.0.1:9', '--device', 'cpu', '--connect-attempts', '1'],
};

describe('--metrics', () => {
  for (const [name, args] of Object.entries(commands)) {
    it(`${name}: a malformed address is a usage error`, async () => {
      const r = await cli([...args, '--metrics', 'localhost']);
      assert.equal(r.status, 2, r.stderr);
      assert.match(r.stderr, new RegExp(`^sam-lora ${name}: --metrics localhost: expected HOST:PORT`, 'm'));
    });

    it(`${name}: a port in use fails at once, naming the flag`, async () => {
      const r = await cli([...args, '--metrics', `127.0.0.1:${taken}`]);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, new RegExp(`--metrics 127\\.0\\.0\\.1:${taken}: cannot serve metrics: port ${taken} is already in use`));
    });
  }

  it('appears in each command’s usage', async () => {
    for (const name of Object.keys(commands)) {
      const r = await new Promise<string>((resolve) => {
        const c = spawn(process.execPath, [CLI, name, '--help'], { stdio: ['ignore', 'pipe', 'ignore'] });
        let out = '';
        c.stdout!.on('data', (d: Buffer) => (out += d.toString()));
        c.on('exit', () => resolve(out));
      });
      assert.match(r, /--metrics HOST:PORT/, name);
    }
  });
});
