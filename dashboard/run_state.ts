// What the dashboard (and the one-line progress records) show, as a pure reducer over the run's
// events: reduceRunState(state, event, at) returns a new state and never mutates the old one, so a
// recorded event sequence replays to the same screen. `at` is the event's wall-clock time (ms); rates
// and the ETA come from it, so they include evaluations and checkpoints, as the operator waits them
// (but not waiting for workers, which the step events report apart).

import { PAST_LOSSES, type RunEvent, type RunInfo } from '../coordinator/run_events.js';
import { describeEvent, type EventLevel } from './event_text.js';

/** Losses kept for the chart (more than any terminal is wide); a resumed run sends as many. */
export const LOSS_HISTORY = PAST_LOSSES;
/** Event log entries kept (more than the screen shows). */
export const LOG_HISTORY = 100;
/** Steps over which throughput is measured. */
export const RATE_WINDOW = 20;

export type WorkerState = 'joined' | 'active' | 'idle' | 'left';

export interface WorkerRow {
  id: string;
  host: string;
  device: string;
  state: WorkerState;
  /** Compute seconds of its share of the last step it took part in. */
  stepSeconds: number | null;
  imagesPerSecond: number | null;
  /** Peak resident memory of its process (host RSS) as of its last step, when it reports it. */
  peakRssBytes: number | null;
  lastLoss: number | null;
  /** Samples it trained in this run. */
  samples: number;
  /** Evictions plus refused messages. */
  failures: number;
  leftReason: string | null;
}

export interface EvalPoint {
  step: number;
  epoch: number;
  dice: number;
  iou: number;
  phase: 'before' | 'during' | 'after';
  best: boolean;
}

export interface LogEntry {
  at: number;
  level: EventLevel;
  text: string;
}

export type RunStatus = 'preparing' | 'running' | 'completed' | 'stopped' | 'failed';

export interface RunState {
  status: RunStatus;
  info: RunInfo | null;
  error: string | null;
  /** Steps done (the last step event's number). */
  step: number;
  /** Current epoch, counted from 1 (as the events count). */
  epoch: number;
  loss: number | null;
  lr: number | null;
  /** fp16 runs: the dynamic loss scale after the last step; null in fp32 runs. */
  lossScale: number | null;
  losses: readonly number[];
  skippedSteps: number;
  /**
   * The last RATE_WINDOW steps: when each ended, how many images it trained, its wall time and the
   * part of it beyond the slowest worker's compute (transfers, reduction, optimizer); both 0 for a
   * step without worker timings.
   */
  recent: readonly { at: number; images: number; seconds: number; overheadSeconds: number; waitingSeconds: number }[];
  /** The first step event seen (in this process), for the ETA. */
  firstStep: { at: number; step: number } | null;
  /** Seconds the steps after the first waited for workers: not training time, so not in the ETA or rates. */
  waitedSeconds: number;
  imagesPerSecond: number | null;
  /** Share of the recent steps' wall time spent beyond compute; null before a step with workers. */
  overheadFraction: number | null;
  etaSeconds: number | null;
  evalBefore: EvalPoint | null;
  evalPrevious: EvalPoint | null;
  evalLatest: EvalPoint | null;
  evalBest: EvalPoint | null;
  workers: readonly WorkerRow[];
  /** Most workers live at once: the denominator of "workers 2/3". */
  peakWorkers: number;
  waiting: { live: number; needed: number } | null;
  lastCheckpoint: { name: string; step: number } | null;
  log: readonly LogEntry[];
}

export function initialRunState(): RunState {
  return {
    status: 'preparing',
    info: null,
    error: null,
    step: 0,
    epoch: 1,
    loss: null,
    lr: null,
    lossScale: null,
    losses: [],
    skippedSteps: 0,
    recent: [],
    waitedSeconds: 0,
    firstStep: null,
    imagesPerSecond: null,
    overheadFraction: null,
    etaSeconds: null,
    evalBefore: null,
    evalPrevious: null,
    evalLatest: null,
    evalBest: null,
    workers: [],
    peakWorkers: 0,
    waiting: null,
    lastCheckpoint: null,
    log: [],
  };
}

export function liveWorkers(s: RunState): number {
  return s.workers.filter((w) => w.state !== 'left').length;
}

const tail = <T>(xs: readonly T[], n: number): T[] => (xs.length > n ? xs.slice(xs.length - n) : [...xs]);

function updateWorker(rows: readonly WorkerRow[], id: string, f: (w: WorkerRow) => WorkerRow): WorkerRow[] {
  return rows.map((w) => (w.id === id ? f(w) : w));
}

function withStep(s: RunState, e: Extract<RunEvent, { kind: 'step' }>, at: number): RunState {
  // A step without worker timings (nothing was computed) says nothing about the overhead.
  const computed = e.timing.workers.length > 0;
  const slowest = computed ? Math.max(...e.timing.workers.map((w) => w.computeSeconds)) : 0;
  const overheadSeconds = computed ? Math.max(0, e.timing.stepSeconds - slowest) : 0;
  const waiting = e.timing.waitingSeconds ?? 0;
  const recent = tail([...s.recent, { at, images: e.images, seconds: computed ? e.timing.stepSeconds : 0, overheadSeconds, waitingSeconds: waiting }], RATE_WINDOW);
  const recentSeconds = recent.reduce((a, r) => a + r.seconds, 0);
  const first = s.firstStep ?? { at, step: e.step };
  const waitedSeconds = s.firstStep ? s.waitedSeconds + waiting : 0;
  // Images over the wall time between the window's first and last step ends (the first step's own
  // images are before the window starts), less the time those steps waited for workers; a single
  // step falls back to its own duration (which excludes waiting).
  const span = (recent[recent.length - 1]!.at - recent[0]!.at) / 1000 - recent.slice(1).reduce((a, r) => a + r.waitingSeconds, 0);
  const windowImages = recent.slice(1).reduce((a, r) => a + r.images, 0);
  const imagesPerSecond = span > 0 ? windowImages / span : e.timing.stepSeconds > 0 ? e.images / e.timing.stepSeconds : null;
  const done = e.step - first.step;
  const secondsPerStep = done > 0 ? Math.max(0, (at - first.at) / 1000 - waitedSeconds) / done : e.timing.stepSeconds;
  const total = s.info?.totalSteps ?? e.step;
  const taking = new Map(e.timing.workers.map((w) => [w.workerId, w]));
  const workers = s.workers.map((w): WorkerRow => {
    const t = taking.get(w.id);
    if (!t) return w.state === 'left' ? w : { ...w, state: w.state === 'joined' ? 'joined' : 'idle' };
    return {
      ...w,
      state: 'active',
      stepSeconds: t.computeSeconds,
      imagesPerSecond: t.computeSeconds > 0 ? t.samples / t.computeSeconds : null,
      peakRssBytes: t.peakRssBytes ?? w.peakRssBytes,
      lastLoss: Number.isFinite(t.loss) ? t.loss : w.lastLoss,
      samples: w.samples + t.samples,
    };
  });
  return {
    ...s,
    status: s.status === 'preparing' ? 'running' : s.status,
    step: e.step,
    epoch: e.epoch,
    loss: e.loss,
    lr: e.lr,
    lossScale: e.lossScale ?? null,
    losses: tail([...s.losses, e.loss], LOSS_HISTORY),
    skippedSteps: s.skippedSteps + (e.skipped ? 1 : 0),
    recent,
    firstStep: first,
    waitedSeconds,
    imagesPerSecond,
    overheadFraction: recentSeconds > 0 ? recent.reduce((a, r) => a + r.overheadSeconds, 0) / recentSeconds : s.overheadFraction,
    etaSeconds: Math.max(0, total - e.step) * secondsPerStep,
    workers,
    waiting: null,
  };
}

function withEval(s: RunState, e: Extract<RunEvent, { kind: 'eval' }>): RunState {
  const point: EvalPoint = { step: e.step, epoch: e.epoch, dice: e.dice, iou: e.iou, phase: e.phase, best: e.best };
  if (e.phase === 'before') return { ...s, evalBefore: point };
  return { ...s, evalPrevious: s.evalLatest, evalLatest: point, evalBest: e.best ? point : s.evalBest };
}

function reduceFacts(s: RunState, e: RunEvent, at: number): RunState {
  switch (e.kind) {
    case 'run_started':
      // A resumed run's past losses continue its loss history (and trend) where it left off.
      return { ...s, status: 'running', info: e.info, step: e.info.startStep, lr: e.info.lr, losses: tail(e.pastLosses ?? s.losses, LOSS_HISTORY), loss: e.pastLosses?.length ? e.pastLosses[e.pastLosses.length - 1]! : s.loss, epoch: e.info.stepsPerEpoch > 0 ? Math.floor(e.info.startStep / e.info.stepsPerEpoch) + 1 : 1 };
    case 'step':
      return withStep(s, e, at);
    case 'epoch_done':
      return { ...s, epoch: e.epoch + 1 };
    case 'eval':
      return withEval(s, e);
    case 'checkpoint':
      return { ...s, lastCheckpoint: { name: e.name, step: e.step } };
    case 'worker_joined': {
      const row: WorkerRow = { id: e.id, host: e.host, device: e.device, state: 'joined', stepSeconds: null, imagesPerSecond: null, peakRssBytes: null, lastLoss: null, samples: 0, failures: 0, leftReason: null };
      const known = s.workers.some((w) => w.id === e.id);
      const workers = known ? updateWorker(s.workers, e.id, (w) => ({ ...w, host: e.host, device: e.device, state: 'joined', leftReason: null })) : [...s.workers, row];
      const live = workers.filter((w) => w.state !== 'left').length;
      return { ...s, workers, peakWorkers: Math.max(s.peakWorkers, live), waiting: s.waiting && live >= s.waiting.needed ? null : s.waiting };
    }
    case 'worker_evicted': {
      // Workers leave when the run is over: that is no failure.
      const failed = ended(s) ? 0 : 1;
      return { ...s, workers: updateWorker(s.workers, e.id, (w) => ({ ...w, state: 'left', failures: w.failures + failed, leftReason: e.reason })) };
    }
    case 'message_rejected':
      return e.workerId ? { ...s, workers: updateWorker(s.workers, e.workerId, (w) => ({ ...w, failures: w.failures + 1 })) } : s;
    case 'waiting_for_workers':
      return { ...s, waiting: { live: e.live, needed: e.needed }, peakWorkers: Math.max(s.peakWorkers, e.needed) };
    case 'run_ended':
      return { ...s, status: e.status, error: e.error ?? null, waiting: null, etaSeconds: e.status === 'completed' ? 0 : s.etaSeconds };
    case 'log':
    case 'tensor_bytes':
    case 'worker_group_size':
      return s;
  }
}

const ended = (s: RunState): boolean => s.status === 'completed' || s.status === 'stopped' || s.status === 'failed';

/** The state after `e`, which happened at `at` (ms since the epoch). */
export function reduceRunState(s: RunState, e: RunEvent, at: number): RunState {
  const next = reduceFacts(s, e, at);
  const line = describeEvent(e);
  if (!line) return next;
  const level = e.kind === 'worker_evicted' && ended(s) ? 'info' : line.level;
  return { ...next, log: tail([...next.log, { at, level, text: line.text }], LOG_HISTORY) };
}
