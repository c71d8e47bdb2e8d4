// Line mode (stdout not a terminal: CI, kubectl logs, nohup; or --no-dashboard): instead of the
// dashboard, one-line progress records on stdout, built from the same RunState:
//   step 120/800 epoch 2/10 loss 0.3412 lr 1.0e-4 12.3 img/s eta 4m10s workers 3/3 overhead 9%
// (overhead: the share of recent step time beyond the slowest worker's compute; fp16 runs add
// `loss scale N`).
// At most one every `intervalMs` (so slow steps each get one and fast runs are not flooded), plus the
// first step, each epoch's last step and the run's last step; and a "waiting for workers" record at
// once when the run starts waiting (the first step after a wait is always printed).

import type { RunListener } from '../coordinator/run_events.js';
import { formatDuration, formatLoss, formatLr, formatRate } from './format.js';
import { type RunState, initialRunState, liveWorkers, reduceRunState } from './run_state.js';

export function formatProgressRecord(s: RunState): string {
  const i = s.info;
  const total = i?.totalSteps ?? s.step;
  const epochs = i?.epochs ?? s.epoch;
  const live = liveWorkers(s);
  return (
    `step ${s.step}/${total} epoch ${Math.min(s.epoch, epochs)}/${epochs} loss ${formatLoss(s.loss)} lr ${formatLr(s.lr)} ` +
    `${formatRate(s.imagesPerSecond)} img/s eta ${formatDuration(s.etaSeconds)} workers ${live}/${Math.max(live, s.peakWorkers)}` +
    (s.overheadFraction !== null ? ` overhead ${Math.round(100 * s.overheadFraction)}%` : '') +
    (s.lossScale !== null ? ` loss scale ${s.lossScale}` : '')
  );
}

/**
 * The record printed at once when the run starts waiting for workers (and when the count changes
 * while it waits): the waiting is a state of its own, and the time it takes is kept out of the rates.
 */
export function formatWaitingRecord(s: RunState): string {
  const w = s.waiting;
  const where = s.info ? ` at step ${s.step}/${s.info.totalSteps} epoch ${Math.min(s.epoch, s.info.epochs)}/${s.info.epochs}` : '';
  return `waiting for workers: ${w?.live ?? 0} connected, ${w?.needed ?? 0} needed${where} (eta and rates paused)`;
}

export interface ProgressRecordOptions {
  /** Least time between records (0: every step). */
  intervalMs: number;
  now?: () => number;
}

/** A run-events listener writing progress records with `write` (one line each, no newline). */
export function progressRecords(write: (line: string) => void, o: ProgressRecordOptions): RunListener {
  const now = o.now ?? Date.now;
  let state = initialRunState();
  let last = -Infinity;
  return (e) => {
    const at = now();
    const wasWaiting = state.waiting !== null;
    state = reduceRunState(state, e, at);
    if (e.kind === 'waiting_for_workers') {
      write(formatWaitingRecord(state));
      return;
    }
    if (e.kind !== 'step') return;
    const perEpoch = state.info?.stepsPerEpoch ?? 0;
    // The first step after a wait is printed, so that the log shows training resumed.
    const milestone = wasWaiting || state.firstStep?.step === e.step || e.step === state.info?.totalSteps || (perEpoch > 0 && e.step % perEpoch === 0);
    if (!milestone && at - last < o.intervalMs) return;
    last = at;
    write(formatProgressRecord(state));
  };
}
