// How a training run shows itself (train, coordinator): on a terminal, the Ink dashboard, with the
// logs kept off the screen (--log-file, else <run dir>/coordinator.log); otherwise (stdout piped: CI,
// kubectl logs, nohup; or --no-dashboard) one-line progress records on stdout and the logs on stderr
// or --log-file. Both read the run's events; the command creates them and hands them here.

import * as path from 'node:path';
import type { Writable } from 'node:stream';
import type { StopKey } from '../dashboard/app.js';
import { startDashboard, type DashboardHandle } from '../dashboard/start_dashboard.js';
import { progressRecords } from '../dashboard/progress_records.js';
import { logRunEvents } from '../coordinator/run_log.js';
import type { RunEvents } from '../coordinator/run_events.js';
import type { Summary } from '../coordinator/trainer.js';
import { DeferredFileDestination } from '../shared/log/deferred_destination.js';
import { type Logger, createLogger } from '../shared/log/logger.js';
import { type LogSettings, LogSettingsError, logSettingsFromArgs } from '../shared/log/log_settings.js';
import type { GracefulStop } from './graceful_stop.js';

/** Why a run that did not complete has no held-out score after training (not: no test split). */
export function notEvaluatedAfter(s: Pick<Summary, 'status' | 'steps'>): string {
  return s.status === 'failed' ? 'not evaluated (the run failed)' : `not evaluated (run stopped at step ${s.steps}; resume with --auto-resume or --resume)`;
}

/** The dashboard's log file in the run directory (without --log-file). */
export const DASHBOARD_LOG = 'coordinator.log';

export const OUTPUT_USAGE = `  On a terminal the run shows a live dashboard (q stops after this step, with a checkpoint) and its
  logs go to --log-file or <run dir>/coordinator.log; otherwise one-line progress records go to
  stdout and the logs (JSON) to stderr.
  --no-dashboard           one-line progress records instead of the dashboard, even on a terminal
  --progress-interval S    least seconds between progress records without the dashboard (default 10; 0: every step)`;

export const OUTPUT_ARG_OPTIONS = {
  'no-dashboard': { type: 'boolean' },
  'progress-interval': { type: 'string' },
} as const;

export interface OutputSettings {
  log: LogSettings;
  dashboard: boolean;
  progressIntervalSeconds: number;
}

/** The output flags (OUTPUT_ARG_OPTIONS and LOG_ARG_OPTIONS) checked; throws LogSettingsError naming the flag. */
export function outputSettingsFromArgs(values: { 'no-dashboard'?: boolean; 'progress-interval'?: string; 'log-level'?: string; 'log-file'?: string; 'log-pretty'?: boolean }): OutputSettings {
  const interval = values['progress-interval'] === undefined ? 10 : Number(values['progress-interval']);
  if (!(interval >= 0)) throw new LogSettingsError(`--progress-interval ${values['progress-interval']}: expected a number of seconds >= 0`);
  return { log: logSettingsFromArgs(values), dashboard: !values['no-dashboard'], progressIntervalSeconds: interval };
}

export interface RunOutputOptions extends OutputSettings {
  events: RunEvents;
  signal: AbortSignal;
  stop: GracefulStop;
  /** Fields on every log record. */
  bindings: Record<string, string>;
}

export interface RunOutputIo {
  stdout: NodeJS.WriteStream | Writable;
  stderr: NodeJS.WriteStream | Writable;
  stdin: NodeJS.ReadStream;
  env: NodeJS.ProcessEnv;
}

export interface RunOutput {
  mode: 'dashboard' | 'lines';
  logger: Logger;
  /** Takes the dashboard down (the final frame stays) and says where the logs went. */
  close(): Promise<void>;
}

/** CI systems set CI; Ink draws no live frames there, so line mode it is. */
function inCi(env: NodeJS.ProcessEnv): boolean {
  return env.CI !== undefined && env.CI !== '0' && env.CI !== 'false';
}

const isTty = (s: NodeJS.WriteStream | Writable): s is NodeJS.WriteStream => (s as NodeJS.WriteStream).isTTY === true;

/** Whether the run gets the dashboard: stdout a terminal, not CI, no --no-dashboard. */
export function wantsDashboard(dashboard: boolean, io: Pick<RunOutputIo, 'stdout' | 'env'>): boolean {
  return dashboard && isTty(io.stdout) && !inCi(io.env);
}

export function startRunOutput(o: RunOutputOptions, io: RunOutputIo = { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env }): RunOutput {
  const stdout = io.stdout;
  if (!wantsDashboard(o.dashboard, io) || !isTty(stdout)) {
    const logger = createLogger(o.log, { bindings: o.bindings, destination: io.stderr });
    o.events.on(logRunEvents(logger));
    o.events.on(progressRecords((line) => stdout.write(`${line}\n`), { intervalMs: o.progressIntervalSeconds * 1000 }));
    return { mode: 'lines', logger, close: async () => undefined };
  }
  // Dashboard: nothing but Ink may write to the terminal, stderr included (it shares the screen).
  const deferred = o.log.file ? null : new DeferredFileDestination();
  const logger = createLogger(o.log, { bindings: o.bindings, ...(deferred ? { destination: deferred } : {}) });
  if (deferred) {
    o.events.on((e) => {
      if (e.kind === 'run_started' && e.info.runDir) deferred.open(path.join(e.info.runDir, DASHBOARD_LOG));
    });
  }
  o.events.on(logRunEvents(logger));
  const notice = o.stop.notice;
  o.stop.notice = () => undefined; // the dashboard's footer says it
  // Ctrl-C on the dashboard (raw mode: a key, not SIGINT) ends the process as SIGINT would; q exits 0.
  const onStop = (key: StopKey): void => o.stop.request(key === 'ctrl-c' ? 'SIGINT' : undefined);
  const dashboard: DashboardHandle = startDashboard({ events: o.events, onStop, signal: o.signal, stdout, stdin: io.stdin, ...(isTty(io.stderr) ? { stderr: io.stderr } : {}) });
  let closing: Promise<void> | null = null;
  const close = async (): Promise<void> => {
    await dashboard.close();
    o.stop.notice = notice;
    const file = o.log.file ?? deferred?.file;
    // The run never got a directory (it failed while preparing): its records go to stderr now.
    if (deferred && !deferred.file) deferred.drainTo((s) => io.stderr.write(s));
    if (file) stdout.write(`logs: ${file}\n`);
  };
  return { mode: 'dashboard', logger, close: () => (closing ??= close()) };
}
