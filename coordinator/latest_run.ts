// `--resume` without `--run-dir`: the latest run under the checkpoint directory (checkpoint.dir,
// default runs/) is the one whose latest checkpoint was written last, whatever its name.

import { readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';

/** The checkpoint pointer a resumable run directory holds. */
export const LATEST_POINTER = path.join('checkpoints', 'latest.json');

/** The run directory under `checkpointDir` with the newest checkpoint; undefined when none has one. */
export function latestRunDir(checkpointDir: string): string | undefined {
  let entries: string[];
  try {
    entries = readdirSync(checkpointDir);
  } catch {
    return undefined; // no such directory yet: no runs
  }
  let best: { dir: string; mtimeMs: number } | undefined;
  for (const name of entries.sort()) {
    const dir = path.join(checkpointDir, name);
    let mtimeMs: number;
    try {
      mtimeMs = statSync(path.join(dir, LATEST_POINTER)).mtimeMs;
    } catch {
      continue; // not a run directory, or a run that never checkpointed
    }
    if (!best || mtimeMs >= best.mtimeMs) best = { dir, mtimeMs };
  }
  return best?.dir;
}

/** The message of a `--resume` without `--run-dir` that finds nothing to resume. */
export function noRunToResume(checkpointDir: string): string {
  return `--resume without --run-dir: no run under ${checkpointDir} has a checkpoint to resume (give --run-dir DIR, or start a run without --resume)`;
}
