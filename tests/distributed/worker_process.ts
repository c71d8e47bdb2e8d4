// A `sam-lora worker` process for the distributed tests: its log messages (the JSON lines it writes
// on stderr) are kept in order, so a test can wait, with a bound, for what the worker itself says
// (joined, evicted, joining again) and check the worker's side of a run.

import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import * as path from 'node:path';
import { repoRoot } from '../helpers/fixtures.js';

export const CLI = path.join(repoRoot(), 'dist', 'bin', 'sam-lora.js');

export class WorkerProcess {
  readonly proc: ChildProcess;
  /** The `msg` of every log line, in order. */
  readonly messages: string[] = [];
  /** Resolves with the exit code (null when a signal ended it). */
  readonly exit: Promise<number | null>;
  private readonly watchers = new Set<() => void>();

  constructor(address: string, env: NodeJS.ProcessEnv, extraArgs: string[] = []) {
    this.proc = spawn(process.execPath, [CLI, 'worker', '--coordinator', address, '--device', 'cpu', '--threads', '1', '--give-up-after', '60', ...extraArgs], {
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let buf = '';
    this.proc.stderr!.on('data', (d: Buffer) => {
      buf += d.toString();
      const lines = buf.split('\n');
      buf = lines.pop()!;
      for (const l of lines) {
        try {
          const msg = (JSON.parse(l) as { msg?: unknown }).msg;
          this.messages.push(typeof msg === 'string' ? msg : l);
        } catch {
          this.messages.push(l);
        }
      }
      for (const w of [...this.watchers]) w();
    });
    this.exit = new Promise((resolve) => this.proc.on('exit', (code) => (resolve(code), [...this.watchers].forEach((w) => w()))));
  }

  get alive(): boolean {
    return this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /** How many messages match `re`. */
  count(re: RegExp): number {
    return this.messages.filter((m) => re.test(m)).length;
  }

  /** Resolves once `n` messages match `re`; rejects after `timeoutMs` or when the process exits first. */
  waitFor(re: RegExp, n = 1, timeoutMs = 30_000): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        if (this.count(re) >= n) return done();
        if (!this.alive) done(new Error(`worker ${this.proc.pid} exited before saying ${re} ${n} time(s):\n${this.messages.join('\n')}`));
      };
      const timer = setTimeout(() => done(new Error(`worker ${this.proc.pid} did not say ${re} ${n} time(s) within ${timeoutMs} ms:\n${this.messages.join('\n')}`)), timeoutMs);
      const done = (err?: Error): void => {
        clearTimeout(timer);
        this.watchers.delete(check);
        if (err) reject(err);
        else resolve();
      };
      this.watchers.add(check);
      check();
    });
  }

  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.alive) this.proc.kill(signal);
  }
}

/** A TCP port free right now on 127.0.0.1 (a coordinator restarted on the same address needs one). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Rejects after `ms`: a bound on a wait that has no timeout of its own. */
export function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)))]).finally(() => clearTimeout(timer));
}
