// A small seeded fuzzer for the file parsers. A target names its valid seed inputs, how to parse one,
// and which errors are its parser's own clear errors; every other outcome of a mutated input is a
// finding: another error type (a crash), an input that takes too long (a hang), or a process whose
// memory grew past a bound (an unbounded allocation). The loop runs in a child process (fuzzInChild)
// so that a real hang or a runaway allocation ends in a kill, not a stuck test run.

import { spawn } from 'node:child_process';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng } from './rng.js';

export interface FuzzTarget {
  /** Valid inputs the mutations start from. */
  seeds(): Promise<Uint8Array[]>;
  /** Structure-aware mutations of one input, besides the byte-level ones (optional). */
  mutate?(input: Uint8Array, rng: Rng): Uint8Array;
  /** Parses one input; resolving or throwing a clear error are both fine. */
  parse(input: Uint8Array): Promise<unknown>;
  /** True for the parser's own clear error types. */
  isClearError(e: unknown): boolean;
}

export interface FuzzFinding {
  iteration: number;
  kind: 'crash' | 'slow';
  detail: string;
  /** The input, base64 (cut at 4 KB), to reproduce. */
  input: string;
}

export interface FuzzReport {
  iterations: number;
  accepted: number;
  refused: number;
  findings: FuzzFinding[];
  slowestMs: number;
  maxRssBytes: number;
}

const INTERESTING_U32 = [0, 1, 0x7f, 0x80, 0xff, 0x7fff, 0xffff, 0x7fffffff, 0xffffffff, 0x10000, 0x40000000];

/** One byte-level mutation: flip, overwrite, insert, delete, duplicate a chunk, or plant a boundary value. */
export function mutateBytes(input: Uint8Array, rng: Rng): Uint8Array {
  const b = Array.from(input);
  const at = (): number => (b.length === 0 ? 0 : rng.int(0, b.length - 1));
  switch (rng.int(0, 6)) {
    case 0:
      if (b.length) b[at()] ^= 1 << rng.int(0, 7);
      break;
    case 1:
      if (b.length) b[at()] = rng.int(0, 255);
      break;
    case 2:
      b.splice(at(), 0, ...Array.from({ length: rng.int(1, 16) }, () => rng.int(0, 255)));
      break;
    case 3:
      b.splice(at(), rng.int(1, 32));
      break;
    case 4: {
      const from = at();
      const chunk = b.slice(from, from + rng.int(1, 64));
      b.splice(at(), 0, ...chunk);
      break;
    }
    case 5: {
      const v = INTERESTING_U32[rng.int(0, INTERESTING_U32.length - 1)]!;
      const i = at();
      for (let k = 0; k < 4 && i + k < b.length; k++) b[i + k] = (v >>> (8 * k)) & 0xff;
      break;
    }
    default:
      return Uint8Array.from(b.slice(0, at()));
  }
  return Uint8Array.from(b);
}

/** Runs `iterations` mutated inputs through a target, in this process. */
export async function runFuzz(target: FuzzTarget, opts: { seed: number; iterations: number; slowMs: number }): Promise<FuzzReport> {
  const rng = new Rng(opts.seed);
  const seeds = await target.seeds();
  const report: FuzzReport = { iterations: opts.iterations, accepted: 0, refused: 0, findings: [], slowestMs: 0, maxRssBytes: 0 };
  for (let i = 0; i < opts.iterations; i++) {
    let input = seeds[rng.int(0, seeds.length - 1)]!;
    for (let m = rng.int(1, 4); m > 0; m--) input = target.mutate && rng.next() < 0.5 ? target.mutate(input, rng) : mutateBytes(input, rng);
    const started = performance.now();
    try {
      await target.parse(input);
      report.accepted++;
    } catch (e) {
      if (target.isClearError(e)) report.refused++;
      else {
        const detail = e instanceof Error ? `${e.name}: ${e.message}\n${e.stack ?? ''}` : String(e);
        report.findings.push({ iteration: i, kind: 'crash', detail: detail.slice(0, 2000), input: Buffer.from(input.subarray(0, 4096)).toString('base64') });
      }
    }
    const ms = performance.now() - started;
    report.slowestMs = Math.max(report.slowestMs, ms);
    if (ms > opts.slowMs) {
      report.findings.push({ iteration: i, kind: 'slow', detail: `took ${ms.toFixed(0)} ms`, input: Buffer.from(input.subarray(0, 4096)).toString('base64') });
    }
  }
  report.maxRssBytes = process.resourceUsage().maxRSS * 1024;
  return report;
}

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fuzz_child.js');

/**
 * Runs a target of fuzz_targets.ts in a child process; rejects when the child does not finish within
 * timeoutMs (a hang) or dies (e.g. out of memory), resolves with its report otherwise.
 */
export function fuzzInChild(target: string, opts: { seed: number; iterations: number; slowMs: number; timeoutMs: number }): Promise<FuzzReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--max-old-space-size=512', CHILD, target, String(opts.seed), String(opts.iterations), String(opts.slowMs)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) {
        reject(new Error(`fuzzing ${target} ${signal === 'SIGKILL' ? `did not finish within ${opts.timeoutMs} ms (a hang?)` : `ended with exit ${code} ${signal ?? ''}`}: ${stderr.slice(-2000)}`));
        return;
      }
      resolve(JSON.parse(stdout) as FuzzReport);
    });
  });
}
