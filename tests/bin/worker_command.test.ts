// `sam-lora worker`: argument validation (exit 2 with the usage), --gpu N numbering against
// CUDA_VISIBLE_DEVICES, and a host without the CUDA provider failing at once (exit 1) with how to
// install it instead of an onnxruntime stack trace.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { UsageError } from '../../bin/cli_errors.js';
import { parseAddress, parseWorkerArgs, visibleGpuCount } from '../../bin/worker_command.js';
import { assertCudaAvailable } from '../../shared/graph/runtime.js';
import { repoRoot } from '../helpers/fixtures.js';

const CLI = path.join(repoRoot(), 'dist', 'bin', 'sam-lora.js');
const tmp = mkdtempSync(path.join(tmpdir(), 'samlora-workercmd-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function cli(args: string[], env: Record<string, string> = {}): { status: number | null; stdout: string; stderr: string } {
  const base = { ...process.env };
  delete base.CUDA_VISIBLE_DEVICES;
  const r = spawnSync(process.execPath, [CLI, 'worker', ...args], { encoding: 'utf8', timeout: 20_000, env: { ...base, ...env } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const STACK_LINE = /^ {4}at /m;

function cudaInstalled(): boolean {
  try {
    assertCudaAvailable();
    return true;
  } catch {
    return false;
  }
}

describe('sam-lora worker', () => {
  // How quickly (target: under 10 s) is measured by bench/cli_latency.ts.
  it('--gpu N without the CUDA execution provider: exit 1 before connecting, saying what is missing and how to install it', { skip: cudaInstalled() && 'this host has the CUDA provider' }, () => {
    const r = cli(['--coordinator', '127.0.0.1:1', '--gpu', '0']);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /^sam-lora worker: --gpu 0: CUDA execution provider not available/);
    assert.match(r.stderr, /libonnxruntime_providers_cuda\.so/);
    assert.match(r.stderr, /npm run install:cuda/);
    assert.match(r.stderr, /--device cpu/);
    assert.doesNotMatch(r.stderr, STACK_LINE);
    assert.doesNotMatch(r.stderr, /not yet available/, 'fails before trying to connect');
    assert.equal(r.stdout, '');
  });

  it('usage errors exit 2 with the message and the usage, no stack trace', () => {
    const missing = cli(['--gpu', '0']);
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /^sam-lora worker: missing --coordinator HOST:PORT\n\nusage: sam-lora worker/);
    assert.doesNotMatch(missing.stderr, STACK_LINE);

    const hidden = cli(['--coordinator', '127.0.0.1:1', '--gpu', '1'], { CUDA_VISIBLE_DEVICES: '3' });
    assert.equal(hidden.status, 2);
    assert.match(hidden.stderr, /--gpu 1: CUDA_VISIBLE_DEVICES="3" shows this process 1 GPU, numbered 0/);
    assert.doesNotMatch(hidden.stderr, STACK_LINE);
  });

  it('--help documents how --gpu N relates to CUDA_VISIBLE_DEVICES', () => {
    const r = cli(['--help']);
    assert.equal(r.status, 0);
    assert.match(r.stdout, /CUDA_VISIBLE_DEVICES=2,3, --gpu 1 is physical\s+GPU 3/);
    assert.match(r.stdout, /--gpus-per-task=1/);
    assert.match(r.stdout, /nvidia\.com\/gpu: 1/);
    assert.match(r.stdout, /npm run install:cuda/);
  });

  it('names a bad token file without printing the token', () => {
    const token = path.join(tmp, 'token');
    writeFileSync(token, 'short-secret\n');
    const r = cli(['--coordinator', '127.0.0.1:1', '--device', 'cpu', '--threads', '2', '--token-file', token]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /token/);
    assert.doesNotMatch(r.stderr, /short-secret/);

    const none = cli(['--coordinator', '127.0.0.1:1', '--device', 'cpu', '--token-file', path.join(tmp, 'absent')]);
    assert.equal(none.status, 1);
    assert.match(none.stderr, /--token-file .*absent: no such file/);
  });

  it('gives up after --connect-attempts failed connections, saying so', () => {
    const r = cli(['--coordinator', '127.0.0.1:1', '--device', 'cpu', '--connect-attempts', '2']);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /retrying/);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  });

  it('gives up (exit 3) when no coordinator could be reached for --give-up-after seconds, saying for how long', () => {
    const r = cli(['--coordinator', '127.0.0.1:1', '--device', 'cpu', '--give-up-after', '1.5']);
    assert.equal(r.status, 3, r.stderr);
    assert.match(r.stderr, /no coordinator at 127\.0\.0\.1:1 for [12] s \(\d+ attempts; last: .*\); giving up \(--give-up-after\)/);
    assert.ok((r.stderr.match(/retrying/g) ?? []).length >= 1, 'it retried before giving up');
    assert.doesNotMatch(r.stderr, /\n\s+at /);
    for (const bad of ['0', '-3', 'soon', 'Infinity']) {
      assert.throws(() => parseWorkerArgs(['--coordinator', 'h:1', '--device', 'cpu', `--give-up-after=${bad}`], {}), /--give-up-after must be a positive number of seconds/, bad);
    }
    const parsed = parseWorkerArgs(['--coordinator', 'h:1', '--device', 'cpu', '--give-up-after', '1800'], {});
    assert.ok(parsed !== 'help' && parsed.giveUpAfterSeconds === 1800);
  });

  it('parses and validates arguments', () => {
    assert.deepEqual(parseWorkerArgs(['--coordinator', 'head-node:50051', '--gpu', '2', '--threads', '4'], {}), {
      coordinator: { host: 'head-node', port: 50051 },
      device: { kind: 'cuda', deviceId: 2 },
      threads: 4,
    });
    assert.deepEqual(parseWorkerArgs(['--coordinator=[::1]:7', '--device', 'cpu', '--token-file', 't'], {}), {
      coordinator: { host: '::1', port: 7 },
      device: { kind: 'cpu' },
      threads: 0,
      tokenFile: 't',
    });
    assert.deepEqual(parseWorkerArgs(['--coordinator', 'h:1', '--device', 'cuda', '--gpu', '0'], { CUDA_VISIBLE_DEVICES: 'GPU-8f2c1a' }), {
      coordinator: { host: 'h', port: 1 },
      device: { kind: 'cuda', deviceId: 0 },
      threads: 0,
    });
    assert.equal(parseWorkerArgs(['-h']), 'help');

    const bad: [string[], RegExp, NodeJS.ProcessEnv?][] = [
      [['--gpu', '0'], /missing --coordinator/],
      [['--coordinator', 'h:1'], /choose the device: --gpu N .* or --device cpu/],
      [['--coordinator', 'h:1', '--gpu', '0', '--device', 'cpu'], /exclude each other/],
      [['--coordinator', 'h:1', '--device', 'cuda'], /--device cuda needs --gpu N/],
      [['--coordinator', 'h:1', '--device', 'tpu'], /--device tpu: expected cpu/],
      [['--coordinator', 'h:1', '--gpu', 'one'], /--gpu one: expected a whole number/],
      [['--coordinator', 'h:1', '--gpu', '-1'], /--gpu/],
      [['--coordinator', 'h:1', '--device', 'cpu', '--threads', '1.5'], /--threads 1.5/],
      [['--coordinator', 'h:1', '--device', 'cpu', '--token-file', ''], /--token-file needs a file/],
      [['--coordinator', 'h:1', '--device', 'cpu', 'extra'], /unexpected argument "extra"/],
      [['--coordinator', 'h:1', '--device', 'cpu', '--port', '3'], /--port/],
      [['--coordinator', 'h:1', '--gpu', '0'], /CUDA_VISIBLE_DEVICES="" hides every GPU/, { CUDA_VISIBLE_DEVICES: '' }],
      [['--coordinator', 'h:1', '--gpu', '2'], /shows this process 2 GPUs, numbered 0\.\.1/, { CUDA_VISIBLE_DEVICES: '4,5' }],
    ];
    for (const [args, message, env] of bad) {
      assert.throws(() => parseWorkerArgs(args, env ?? {}), (e: Error) => e instanceof UsageError && message.test(e.message), args.join(' '));
    }
  });

  it('parses HOST:PORT and counts the GPUs CUDA_VISIBLE_DEVICES shows', () => {
    assert.deepEqual(parseAddress('10.0.0.5:50051'), { host: '10.0.0.5', port: 50051 });
    assert.deepEqual(parseAddress('[fe80::1]:443'), { host: 'fe80::1', port: 443 });
    for (const [arg, message] of [
      ['localhost', /expected HOST:PORT/],
      ['h:0', /port must be/],
      ['h:65536', /port must be/],
      ['h:', /port must be/],
      ['::1:50051', /expected HOST:PORT/],
      ['http://h:5', /without a scheme \(e\.g\. h:5\)/],
    ] as const) {
      assert.throws(() => parseAddress(arg), message, arg);
    }
    assert.equal(visibleGpuCount(undefined), undefined);
    assert.equal(visibleGpuCount(''), 0);
    assert.equal(visibleGpuCount('-1'), 0);
    assert.equal(visibleGpuCount('0'), 1);
    assert.equal(visibleGpuCount('2,3'), 2);
    assert.equal(visibleGpuCount('0,1,-1,2'), 2, 'CUDA stops at the first invalid entry');
    assert.equal(visibleGpuCount('GPU-5a1f,MIG-GPU-5a1f/1/0'), 2);
  });
});
