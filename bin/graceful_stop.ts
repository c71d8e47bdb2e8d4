// Ctrl-C / SIGTERM for long runs: the first signal asks the run to stop after its current step
// (with a checkpoint); a second one quits at once. The exit status then says what ended the run.

import { constants } from 'node:os';
import type { RunStatus } from '../coordinator/trainer.js';

export interface GracefulStop {
  /**
   * Stops as the first Ctrl-C does (after this step, with a checkpoint); called again, quits at once.
   * `signal`: the signal (or the dashboard's Ctrl-C, SIGINT) that asks; none for the dashboard's `q`.
   */
  request: (signal?: NodeJS.Signals) => void;
  /** Tells the operator the run is stopping: stderr, unless a dashboard that says so itself is on screen. */
  notice: (text: string) => void;
  /** The signal of the first stop request; undefined when none came or it was the dashboard's `q`. */
  stoppedBy: () => NodeJS.Signals | undefined;
  /** The run's directory once known: the stop notice names it (the resume command follows at the end). */
  runDir?: string;
}

/** 128 + the signal's number: the shell's status of a process a signal ended (SIGTERM 143, SIGINT 130). */
export function signalExitStatus(signal: NodeJS.Signals): number {
  return 128 + constants.signals[signal];
}

/**
 * The exit status of `train` and `coordinator`: 0 completed, 1 failed, and 128 + the signal for a run
 * a signal stopped (checkpoint written), so that a Job, Slurm or systemd sees an interrupted run
 * rather than a finished one. A stop with the dashboard's `q` is the operator's choice: 0.
 */
export function runExitStatus(status: RunStatus, stoppedBy: NodeJS.Signals | undefined): number {
  if (status === 'failed') return 1;
  return status === 'stopped' && stoppedBy ? signalExitStatus(stoppedBy) : 0;
}

/** The exit-status paragraph of the usage of `train` and `coordinator`. */
export const RUN_EXIT_STATUS = `  Exit status: 0 the run completed (or had already), or q on the dashboard stopped it; 1 failed;
  2 usage error; 143 (SIGTERM) or 130 (SIGINT, Ctrl-C) stopped it after this step's checkpoint:
  128 + the signal, so that a Job, Slurm or systemd sees an interrupted run, not a finished one.`;

export async function withGracefulStop<T>(run: (signal: AbortSignal, stop: GracefulStop) => Promise<T>): Promise<T> {
  const stop = new AbortController();
  let stoppedBy: NodeJS.Signals | undefined;
  const control: GracefulStop = {
    notice: (text) => process.stderr.write(`\n${text}\n`),
    request: (signal) => {
      // A second request quits without a checkpoint: interrupted (130 for a second q) whatever the first was.
      if (stop.signal.aborted) process.exit(signalExitStatus(signal ?? 'SIGINT'));
      stoppedBy = signal;
      const into = control.runDir ? ` into ${control.runDir}` : '';
      control.notice(`stopping after this step (checkpointing${into}; the command to resume follows); press Ctrl-C again to quit at once`);
      stop.abort();
    },
    stoppedBy: () => stoppedBy,
  };
  const onSignal = (signal: NodeJS.Signals): void => control.request(signal);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await run(stop.signal, control);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
