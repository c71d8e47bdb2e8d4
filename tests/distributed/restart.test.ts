// The coordinator process is killed (kill -9) mid-run and restarted with --resume on the same
// address: the worker processes reconnect by themselves and the run completes with the result of an
// uninterrupted run.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
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

interface Started {
  proc: ChildProcess;
  exit: Promise<number | null>;
}

/** Runs the CLI; `onLine` sees each line of its stdout and stderr. */
function start(args: string[], onLine?: (line: string, p: ChildProcess) => void): Started {
  const proc = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  procs.push(proc);
  for (const stream of [proc.stdout!, proc.stderr!]) {
    let buf = '';
    stream.on('data', (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop()!;
      for (const l of lines) onLine?.(l, proc);
    });
  }
  return { proc, exit: new Promise((resolve) => proc.on('exit', (code) => resolve(code))) };
}

/**
 * Starts a coordinator on `listen` (port 0: the kernel picks a free one, which no one can take
 * between choosing and binding) and resolves with it and the address it is listening on.
 */
async function startCoordinator(args: string[], listen: string, onLine?: (line: string, p: ChildProcess) => void): Promise<Started & { address: string }> {
  let listening: (address: string) => void = () => undefined;
  const address = new Promise<string>((resolve) => (listening = resolve));
  const c = start(['coordinator', '--listen', listen, ...args], (line, p) => {
    const m = /coordinator listening on (127\.0\.0\.1:\d+)/.exec(line);
    if (m) listening(m[1]!);
    onLine?.(line, p);
  });
  return { ...c, address: await Promise.race([address, c.exit.then((code) => assert.fail(`the coordinator exited (${code}) before listening`))]) };
}

async function coordinatorRun(name: string, config: string, killAfterStep?: number): Promise<Summary> {
  const runDir = path.join(tmp, name);
  const args = ['--config', config, '--run-dir', runDir, '--min-workers', '2', '--set', 'checkpoint.interval_steps=1', '--progress-interval', '0'];
  const first = await startCoordinator(args, '127.0.0.1:0', (line, p) => {
    // The step-k checkpoint is on disk before step k + 1 begins (a progress record every step: --progress-interval 0).
    if (killAfterStep !== undefined && line.includes(`step ${killAfterStep + 1}/`)) p.kill('SIGKILL');
  });
  // --give-up-after counts only time without a coordinator: the outage here is far shorter.
  const workers = [0, 1].map(() => start(['worker', '--coordinator', first.address, '--device', 'cpu', '--threads', '1', '--connect-attempts', '20', '--give-up-after', '120']));
  const code = await first.exit;
  if (killAfterStep !== undefined) {
    assert.equal(code, null, 'the first coordinator was killed');
    // The same address: the workers reconnect to it.
    const resumed = await startCoordinator([...args, '--resume'], first.address);
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
    const clean = await coordinatorRun('clean', config);
    const restarted = await coordinatorRun('restarted', config, 5);
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
