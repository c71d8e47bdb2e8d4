// Failures of a distributed run, with real worker processes on loopback: kill -9 of one of three
// workers mid-run (the run completes, every sample once per epoch), a worker joining mid-run, and
// workers refused for a missing token or a different checkpoint.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { runDistributed } from '../../coordinator/distributed_run.js';
import { SharedToken, TOKEN_ENV_VAR } from '../../shared/wire/security.js';
import { fixtureDirs, readMeta, repoRoot } from '../helpers/fixtures.js';
import { tinyRunConfig } from './helpers.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'samlora-fail-'));
const CLI = path.join(repoRoot(), 'dist', 'bin', 'sam-lora.js');
const TOKEN = 'test-token-0123456789abcdef';
const env = { ...process.env, [TOKEN_ENV_VAR]: TOKEN };
const children: ChildProcess[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
});

interface CliResult {
  status: number | null;
  stderr: string;
}

/** Runs a worker process to its end (bounded: it gives up after 2 connection attempts). */
function runCli(address: string, childEnv: NodeJS.ProcessEnv): Promise<CliResult> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [CLI, 'worker', '--coordinator', address, '--device', 'cpu', '--connect-attempts', '2'], { env: childEnv, stdio: ['ignore', 'ignore', 'pipe'] });
    children.push(c);
    let stderr = '';
    c.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    c.on('exit', (status) => resolve({ status, stderr }));
  });
}

function worker(address: string, extraEnv: NodeJS.ProcessEnv = env): ChildProcess {
  const c = spawn(process.execPath, [CLI, 'worker', '--coordinator', address, '--device', 'cpu', '--threads', '1', '--connect-attempts', '3'], { env: extraEnv, stdio: 'ignore' });
  children.push(c);
  return c;
}

describe('distributed failures', () => {
  it('kill -9 of one of three workers: training waits for min_workers, a new worker joins and is used, each sample trained once per epoch', async () => {
    const config = await tinyRunConfig(path.join(tmp, 'kill'), { train: 12, batch: 3, epochs: 2 });
    let victim: ChildProcess | undefined;
    const lines: string[] = [];
    let address = '';
    const s = await runDistributed({
      configPath: config,
      runDir: path.join(tmp, 'kill', 'run'),
      listen: '127.0.0.1:0',
      // With 3 required, the loop must wait for the replacement after the kill: the late worker is
      // used by construction, not by timing.
      minWorkers: 3,
      token: SharedToken.fromEnv(TOKEN_ENV_VAR, env),
      deadlineMs: 60_000,
      completionGraceMs: 0,
      onListening: (a) => {
        address = a;
        worker(a);
        victim = worker(a);
        worker(a);
      },
      progress: (line) => {
        lines.push(line);
        if (/step 2\//.test(line) && victim && victim.exitCode === null) {
          victim.kill('SIGKILL');
          worker(address);
        }
      },
    });
    assert.equal(s.status, 'completed', lines.join('\n'));
    assert.ok(s.evictions >= 1, 'the killed worker was evicted');
    assert.deepEqual(s.epochs.map((e) => [e.samples_trained, e.duplicates, e.missing]), [[12, 0, 0], [12, 0, 0]]);
    assert.ok(s.losses.every(Number.isFinite));
    assert.equal(lines.filter((l) => / joined$/.test(l)).length, 4, 'three workers and the replacement joined');
    assert.ok(lines.some((l) => /waiting for workers: 2 connected, 3 needed/.test(l)), 'the loop waited, saying so');
  });

  it('refuses a worker without the token and one with a different checkpoint, saying what differs', async () => {
    const dirs = fixtureDirs();
    assert.ok(dirs.length >= 2, 'needs two fixture checkpoints');
    const ckpt = path.join(tmp, 'sam.pth');
    copyFileSync(path.join(dirs[0]!, 'sam.pth'), ckpt);
    const demoConfig = await tinyRunConfig(path.join(tmp, 'refuse'), { train: 4, batch: 2, epochs: 1 });
    const config = path.join(tmp, 'refuse', 'real.yaml');
    // A real checkpoint named by path, so the fingerprint carries its sha256.
    const meta = readMeta(dirs[0]!);
    writeFileSync(config, `model:\n  checkpoint: ${ckpt}\n  decoder_heads: ${meta.config.dheads}\ndata:\n  train: ${path.join(tmp, 'refuse', 'demo', 'train')}\ntrain:\n  epochs: 1\n  batch_size: 2\ncheckpoint:\n  dir: ${tmp}\n`);
    void demoConfig;
    const stop = new AbortController();
    const run = runDistributed({
      configPath: config,
      runDir: path.join(tmp, 'refuse', 'run'),
      listen: '127.0.0.1:0',
      minWorkers: 1,
      token: SharedToken.fromEnv(TOKEN_ENV_VAR, env),
      signal: stop.signal,
      onListening: (address) => {
        void (async () => {
          // No token (the coordinator keeps serving: the workers are separate processes).
          results.noToken = await runCli(address, { ...process.env, [TOKEN_ENV_VAR]: '' });
          // The same path now holds another checkpoint.
          copyFileSync(path.join(dirs[1]!, 'sam.pth'), ckpt);
          results.other = await runCli(address, env);
          stop.abort();
        })();
      },
    });
    const results: { noToken?: CliResult; other?: CliResult } = {};
    const summary = await run;
    assert.equal(summary.status, 'stopped');
    assert.equal(results.noToken!.status, 1, results.noToken!.stderr);
    assert.match(results.noToken!.stderr, /refused: .*(token|authorization)/i);
    assert.equal(results.other!.status, 1, results.other!.stderr);
    assert.match(results.other!.stderr, /refused: .*checkpoint: coordinator sha256/);
  });
});
