// Runs `sam-lora` in its own process with a hard time limit and reports how it ended: exit status,
// output, whether it had to be killed, its peak resident memory and any prototype pollution (see
// process_report.ts). For hostile-input tests: a hang or an unbounded allocation is an assertion,
// not a stuck CI job.

import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { repoRoot } from './fixtures.js';
import type { ProcessReport } from './process_report.js';

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** True when the time limit ran out and the process was killed. */
  timedOut: boolean;
  /** Null when the process did not get to report (killed). */
  report: ProcessReport | null;
}

const CLI = path.join(repoRoot(), 'dist', 'bin', 'sam-lora.js');
const PRELOAD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'process_report.js');

export function runCli(args: readonly string[], options: { timeoutMs: number; cwd?: string; env?: NodeJS.ProcessEnv }): Promise<CliRun> {
  const dir = mkdtempSync(path.join(tmpdir(), 'samlora-cli-'));
  const reportFile = path.join(dir, 'report.json');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', PRELOAD, CLI, ...args], {
      cwd: options.cwd ?? repoRoot(),
      env: { ...process.env, ...options.env, SAMLORA_PROCESS_REPORT: reportFile },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, options.timeoutMs);
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (e) => {
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      let report: ProcessReport | null = null;
      try {
        report = JSON.parse(readFileSync(reportFile, 'utf8')) as ProcessReport;
      } catch {
        report = null;
      }
      rmSync(dir, { recursive: true, force: true });
      resolve({ code, stdout, stderr, timedOut, report });
    });
  });
}
