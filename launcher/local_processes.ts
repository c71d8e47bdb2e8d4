// The local launcher of `sam-lora train --workers K`: a coordinator in this process and K worker
// processes on this host (one per listed GPU, or CPU workers), joined over loopback with a fresh
// random token passed in their environment. All of them stop when the run ends or is interrupted.
// With `groups`, the workers form that many host groups, each behind its own aggregator process
// (README "Host groups"): the coordinator then moves one gradient sum and one weights version per
// group and step.

import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LogLevel } from '../shared/log/log_settings.js';
import { SharedToken, TOKEN_ENV_VAR } from '../shared/wire/security.js';
import { type DistributedRunOptions, runDistributed } from '../coordinator/distributed_run.js';
import { runNotes } from '../coordinator/run_notes.js';
import type { Summary } from '../coordinator/trainer.js';
import { forwardWorkerStderr } from './worker_stderr.js';
import { startAggregator } from './aggregator_process.js';
import { withTrainingMallocEnv } from '../shared/graph/malloc_env.js';

export interface LaunchOptions extends Omit<DistributedRunOptions, 'listen' | 'minWorkers' | 'token' | 'onListening'> {
  workers: number;
  /** CUDA devices, one worker each (workers = gpus.length); CPU workers when omitted. */
  gpus?: number[];
  /** ORT threads per worker (default: the cores shared out). */
  threads?: number;
  /** The workers' --log-level (default: theirs, info). */
  workerLogLevel?: LogLevel;
  /** Host groups, each behind an aggregator process (1..workers; default: none, every worker direct). */
  groups?: number;
}

const CLI = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'sam-lora.js');

export async function launchLocal(o: LaunchOptions): Promise<Summary> {
  const count = o.gpus?.length ?? o.workers;
  const secret = randomBytes(24).toString('hex');
  const env = withTrainingMallocEnv({ ...process.env, [TOKEN_ENV_VAR]: secret });
  const children: ChildProcess[] = [];
  const say = runNotes(o);
  const groups = o.groups ?? 0;
  if (groups && !(Number.isInteger(groups) && groups >= 1 && groups <= count)) throw new Error(`groups must be a whole number from 1 to the workers (${count}); got ${groups}`);
  try {
    return await runDistributed({
      ...o,
      listen: '127.0.0.1:0',
      minWorkers: groups || count,
      // This launcher stops its own workers at the end: no need to wait for returning ones.
      completionGraceMs: 0,
      token: SharedToken.fromEnv(TOKEN_ENV_VAR, env),
      onListening: (address) => {
        const worker = (i: number, via: string[]): void => {
          const device = o.gpus ? ['--gpu', String(o.gpus[i])] : ['--device', 'cpu'];
          const threads = o.threads ? ['--threads', String(o.threads)] : [];
          const logLevel = o.workerLogLevel ? ['--log-level', o.workerLogLevel] : [];
          const child = spawn(process.execPath, [CLI, 'worker', '--coordinator', address, ...via, ...device, ...threads, ...logLevel, '--connect-attempts', '5'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
          // Both streams are read, never inherited: nothing a worker prints may land on the dashboard.
          for (const stream of [child.stdout, child.stderr]) if (stream) forwardWorkerStderr(stream, i, say);
          children.push(child);
        };
        if (!groups) {
          for (let i = 0; i < count; i++) worker(i, []);
          return;
        }
        // Group g: workers g*count/groups .. (g+1)*count/groups - 1, started once its aggregator listens.
        for (let g = 0; g < groups; g++) {
          const name = `local-${g}`;
          const agg = startAggregator(CLI, address, name, env, say, o.workerLogLevel);
          children.push(agg.child);
          agg.address.then(
            (at) => {
              for (let i = Math.ceil((g * count) / groups); i < Math.ceil(((g + 1) * count) / groups); i++) worker(i, ['--aggregator', at, '--group', name]);
            },
            (err: unknown) => say(err instanceof Error ? err.message : String(err), 'error'),
          );
        }
      },
    });
  } finally {
    await Promise.all(children.map((c) => stopChild(c)));
  }
}

/** Waits for a worker to leave after the coordinator's stop; kills it if it does not within 10 s. */
function stopChild(c: ChildProcess): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => c.kill('SIGKILL'), 10_000);
    c.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    c.kill('SIGTERM');
  });
}
