// What a run that stopped before its end prints last: its run directory and the exact command that
// resumes it (the command line as given, with --run-dir DIR --resume in place of any run-dir/resume
// flags), so that Ctrl-C, SIGTERM or the dashboard's q never leaves the operator guessing.

import { realpathSync } from 'node:fs';
import * as path from 'node:path';
import type { Summary } from '../coordinator/trainer.js';

/** Flags the hint replaces; the boolean ones take no value. */
const DROPPED_WITH_VALUE = new Set(['--run-dir']);
const DROPPED_ALONE = new Set(['--resume', '--auto-resume']);

/** A word as a POSIX shell reads it back (single-quoted when it holds anything special). */
export function shellQuote(word: string): string {
  return /^[\w./:=,@%+-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

const realpathOrUndefined = (p: string): string | undefined => {
  try {
    return realpathSync(p);
  } catch {
    return undefined;
  }
};

/**
 * How the operator runs the CLI: `npx sam-lora` when the running script is the one npx finds from
 * cwd (the checkout's own dist/, or the package installed under cwd's node_modules), else `sam-lora`
 * (on the PATH: the container image, a global install).
 */
export function cliProgram(script = process.argv[1], cwd = process.cwd()): string {
  const running = script === undefined ? undefined : realpathOrUndefined(script);
  const npxFinds = [path.join(cwd, 'dist', 'bin', 'sam-lora.js'), path.join(cwd, 'node_modules', 'sam-lora', 'dist', 'bin', 'sam-lora.js')].map(realpathOrUndefined);
  return running !== undefined && npxFinds.includes(running) ? 'npx sam-lora' : 'sam-lora';
}

/** `args` (the command and its flags, as given) with --run-dir DIR --resume in place of the run-dir/resume flags. */
export function resumeCommand(program: string, args: readonly string[], runDir: string): string {
  const kept: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (DROPPED_ALONE.has(a)) continue;
    if (DROPPED_WITH_VALUE.has(a)) {
      i++;
      continue;
    }
    if ([...DROPPED_WITH_VALUE].some((f) => a.startsWith(`${f}=`))) continue;
    kept.push(a);
  }
  return [program, ...[...kept, '--run-dir', runDir, '--resume'].map(shellQuote)].join(' ');
}

/** The lines printed after a run that did not complete and has a checkpoint to resume from; '' otherwise. */
export function resumeHint(summary: Pick<Summary, 'status' | 'checkpoints'>, runDir: string | undefined, args: readonly string[] = process.argv.slice(2), program = cliProgram()): string {
  if (summary.status === 'completed' || !summary.checkpoints.latest || !runDir) return '';
  return `run directory: ${runDir}\nresume with:   ${resumeCommand(program, args, runDir)}\n`;
}
