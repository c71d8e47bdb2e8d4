// How long command lines that should be quick take, as real processes: writing the default demo
// dataset (target: under 4 s) and a worker asked for a GPU on a host without the CUDA provider
// failing (target: under 10 s, before any connection attempt). One JSON line per command on stdout;
// the targets are reported, not enforced.
//
// node dist/bench/cli_latency.js

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { assertCudaAvailable } from '../shared/graph/runtime.js';

const CLI = fileURLToPath(new URL('../bin/sam-lora.js', import.meta.url));

interface Case {
  name: string;
  args: string[];
  targetS: number;
  /** Why the case is not measured on this host, if it is not. */
  skip?: string;
}

function cudaProviderMissing(): boolean {
  try {
    assertCudaAvailable();
    return false;
  } catch {
    return true;
  }
}

const tmp = mkdtempSync(path.join(tmpdir(), 'samlora-clilatency-'));
try {
  const cases: Case[] = [
    { name: 'demo-data (default dataset)', args: ['demo-data', '--out', path.join(tmp, 'demo'), '--seed', '7'], targetS: 4 },
    {
      name: 'worker --gpu 0 without the CUDA provider',
      args: ['worker', '--coordinator', '127.0.0.1:1', '--gpu', '0'],
      targetS: 10,
      ...(cudaProviderMissing() ? {} : { skip: 'this host has the CUDA provider' }),
    },
  ];
  for (const c of cases) {
    if (c.skip) {
      process.stdout.write(`${JSON.stringify({ bench: 'cli_latency', command: c.name, skipped: c.skip })}\n`);
      continue;
    }
    const t0 = performance.now();
    const r = spawnSync(process.execPath, [CLI, ...c.args], { encoding: 'utf8', timeout: 120_000 });
    const wallS = (performance.now() - t0) / 1000;
    process.stdout.write(`${JSON.stringify({ bench: 'cli_latency', command: c.name, exit: r.status, wall_s: Number(wallS.toFixed(3)), target_s: c.targetS, target_met: wallS < c.targetS })}\n`);
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
