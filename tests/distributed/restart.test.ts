// The coordinator process is killed (kill -9) mid-run and restarted with --resume on the same
// address: the worker processes reconnect by themselves and the run completes with the result of an
// uninterrupted run.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import type { Summary } from '../../coordinator/trainer.js';
import { loadLora } from '../../shared/sam/lora_io.js';
import { repoRoot } from '../helpers/fixtures.js';
import { tinyRunConfig } from './helpers.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'samlora-restart-'));
const CLI = path.join(repoRoot(), 'dist', 'bin', 'sam-lora.js');
const env = { ...process.env, SAMLORA_TOKEN: 'restart-token-0123456789' };
const procs: ChildProcess[] = [];
after(() => {
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function start(args: string[], onLine?: (line: string, p: ChildProcess) => void): { proc: ChildProcess; exit: Promise<number | null> } {
  const proc = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  procs.push(proc);
  let buf = '';
  proc.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    const lines = buf.split('\n');
    buf = lines.pop()!;
    for (const l of lines) onLine?.(l, proc);
  });
  proc.stderr!.resume();
  return { proc, exit: new Promise((resolve) => proc.on('exit', (code) => resolve(code))) };
}

async function coordinatorRun(name: string, config: string, port: number, killAfterStep?: number): Promise<Summary> {
  const runDir = path.join(tmp, name);
  const args = ['coordinator', '--listen', `127.0.0.1:${port}`, '--config', config, '--run-dir', runDir, '--min-workers', '2', '--set', 'checkpoint.interval_steps=1', '--progress-interval', '0'];
  // --give-up-after counts only time without a coordinator: the outage here is far shorter.
  const workers = [0, 1].map(() => start(['worker', '--coordinator', `127.0.0.1:${port}`, '--device', 'cpu', '--threads', '1', '--connect-attempts', '20', '--give-up-after', '120']));
  const first = start(args, (line, p) => {
    // The step-k checkpoint is on disk before step k + 1 begins (a progress record every step: --progress-interval 0).
    if (killAfterStep !== undefined && line.includes(`step ${killAfterStep + 1}/`)) p.kill('SIGKILL');
  });
  const code = await first.exit;
  if (killAfterStep !== undefined) {
    assert.equal(code, null, 'the first coordinator was killed');
    const resumed = start([...args, '--resume']);
    assert.equal(await resumed.exit, 0);
  } else {
    assert.equal(code, 0);
  }
  for (const w of workers) assert.equal(await w.exit, 0, 'workers end cleanly when the run is over');
  return JSON.parse(readFileSync(path.join(runDir, 'summary.json'), 'utf8')) as Summary;
}

describe('coordinator restart', () => {
  it('workers reconnect to a coordinator restarted with --resume; the result equals an uninterrupted run', async () => {
    const config = await tinyRunConfig(tmp, { train: 8, batch: 2, epochs: 2 });
    const clean = await coordinatorRun('clean', config, await freePort());
    const restarted = await coordinatorRun('restarted', config, await freePort(), 5);
    assert.equal(clean.status, 'completed');
    assert.equal(restarted.status, 'completed');
    assert.equal(restarted.steps, clean.steps);
    restarted.losses.forEach((l, i) => assert.ok(Math.abs(l - clean.losses[i]!) <= 1e-5 * Math.max(1, Math.abs(clean.losses[i]!)), `step ${i}: ${l} vs ${clean.losses[i]}`));
    assert.deepEqual(restarted.epochs.map((e) => [e.samples_trained, e.duplicates, e.missing]), clean.epochs.map((e) => [e.samples_trained, e.duplicates, e.missing]));
    const a = await loadLora(path.join(clean.checkpoints.final!, 'lora.safetensors'));
    const b = await loadLora(path.join(restarted.checkpoints.final!, 'lora.safetensors'));
    for (const [k, t] of a.tensors) {
      const u = b.tensors.get(k)!.data;
      const scale = Math.max(...t.data.map(Math.abs), 1e-6);
      t.data.forEach((v, i) => assert.ok(Math.abs(v - u[i]!) <= 1e-5 * scale, `${k}[${i}]`));
    }
  });
});
