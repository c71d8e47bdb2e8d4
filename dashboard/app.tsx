// The dashboard: header, progress, loss chart, evaluation, workers and event log stacked in fixed
// regions that fill the terminal's height less one line, redrawn when the store publishes (at most 4
// times a second). `q` (or Ctrl-C: the terminal is in raw mode, so it arrives as a key) asks the run
// to stop after the current step with a checkpoint, exactly as Ctrl-C does without the dashboard
// (the process then exits 0 after q, the operator's choice, and 130 after Ctrl-C, as after SIGINT).

import { Box, useInput, useStdin, useStdout } from 'ink';
import { useEffect, useState, useSyncExternalStore } from 'react';
import { EvalPanel } from './eval_panel.js';
import { EventLog } from './event_log.js';
import { Header } from './header.js';
import { layout } from './layout.js';
import { type Line, Lines, seg } from './lines.js';
import { LossChart } from './loss_chart.js';
import { Progress } from './progress.js';
import type { RunState } from './run_state.js';
import type { RunStore } from './run_store.js';
import { WorkersTable } from './workers_table.js';

export type StopKey = 'q' | 'ctrl-c';

export interface DashboardProps {
  store: RunStore;
  /** Asks the run to stop gracefully (the same path as Ctrl-C); says which key, since Ctrl-C exits as SIGINT would and q with 0. */
  onStop: (key: StopKey) => void;
  /** The run's stop signal: once aborted (by q, Ctrl-C or SIGTERM) the footer says the run is stopping. */
  signal?: AbortSignal;
  /** Fixed size (tests); default: the terminal's, following resizes. */
  columns?: number;
  rows?: number;
  /** Called once keys are listened to. */
  onReady?: () => void;
}

function useTerminalSize(columns?: number, rows?: number): { columns: number; rows: number } {
  const { stdout } = useStdout();
  const read = (): { columns: number; rows: number } => ({ columns: columns ?? (stdout.columns || 80), rows: rows ?? (stdout.rows || 24) });
  const [size, setSize] = useState(read);
  useEffect(() => {
    const onResize = (): void => setSize(read());
    stdout.on('resize', onResize);
    return () => {
      stdout.off('resize', onResize);
    };
  });
  return columns !== undefined && rows !== undefined ? { columns, rows } : size;
}

function footerLine(s: RunState, stopping: boolean): Line {
  if (s.status === 'completed' || s.status === 'stopped' || s.status === 'failed') return [seg(`run ${s.status}${s.error ? `: ${s.error}` : ''}`, { bold: true, color: s.status === 'failed' ? 'red' : 'cyan' })];
  if (stopping) return [seg(`stopping after this step… (checkpointing${s.info?.runDir ? ` into ${s.info.runDir}` : ''}; Ctrl-C again quits at once)`, { bold: true, color: 'yellow' })];
  return [seg(' q ', { inverse: true }), seg(' stop after this step (checkpoint first)', { dim: true })];
}

export function Dashboard({ store, onStop, signal, columns, rows, onReady }: DashboardProps) {
  const state = useSyncExternalStore(store.subscribe, store.snapshot);
  const size = useTerminalSize(columns, rows);
  const [stopping, setStopping] = useState(signal?.aborted ?? false);
  const { isRawModeSupported } = useStdin();
  useEffect(() => {
    if (!signal || signal.aborted) return;
    const onAbort = (): void => setStopping(true);
    signal.addEventListener('abort', onAbort, { once: true });
    return () => signal.removeEventListener('abort', onAbort);
  }, [signal]);
  useInput(
    (input, key) => {
      if (input === 'q' || (key.ctrl && input === 'c')) {
        setStopping(true);
        onStop(input === 'q' ? 'q' : 'ctrl-c');
      }
    },
    { isActive: isRawModeSupported === true },
  );
  // Declared after useInput: React runs effects in order, so keys are listened to when this runs.
  useEffect(() => onReady?.(), [onReady]);

  const width = Math.max(20, size.columns);
  const l = layout(size.rows, state.workers.length);
  return (
    <Box flexDirection="column" width={width} height={l.total}>
      <Header state={state} width={width} height={l.header} />
      <Progress state={state} width={width} height={l.progress} />
      <LossChart state={state} width={width} height={l.loss} />
      <EvalPanel state={state} width={width} height={l.eval} />
      <WorkersTable state={state} width={width} rows={l.workerRows} />
      <EventLog state={state} width={width} rows={l.logRows} />
      <Lines lines={[footerLine(state, stopping)]} width={width} height={l.footer} />
    </Box>
  );
}
