// The options `train` and `coordinator` share (the run: config, run directory, resume, overrides,
// metrics, output and logs), declared and checked once.

import { latestRunDir, noRunToResume } from '../coordinator/latest_run.js';
import { completedRun } from '../coordinator/prepare_run.js';
import type { Summary } from '../coordinator/trainer.js';
import { loadConfig, parseSetArgs } from '../shared/config/index.js';
import { LOG_ARG_OPTIONS } from '../shared/log/log_settings.js';
import { type ListenAddress, parseMetricsOption } from '../shared/prometheus/listen_address.js';
import { UsageError, asUsage } from './cli_errors.js';
import { OUTPUT_ARG_OPTIONS, type OutputSettings, outputSettingsFromArgs } from './run_output.js';

export const RUN_ARG_OPTIONS = {
  config: { type: 'string' },
  'run-dir': { type: 'string' },
  resume: { type: 'boolean' },
  'auto-resume': { type: 'boolean' },
  set: { type: 'string', multiple: true },
  epochs: { type: 'string' },
  metrics: { type: 'string' },
  ...OUTPUT_ARG_OPTIONS,
  ...LOG_ARG_OPTIONS,
} as const;

type RunArgValues = { config?: string; 'run-dir'?: string; resume?: boolean; 'auto-resume'?: boolean; set?: string[]; epochs?: string; metrics?: string } & Parameters<typeof outputSettingsFromArgs>[0];

export interface RunArgs {
  configPath: string | undefined;
  runDir: string | undefined;
  /** 'auto' for --auto-resume. */
  resume: boolean | 'auto';
  /** --set, with --epochs as train.epochs. */
  overrides: Record<string, string>;
  output: OutputSettings;
  metricsAt: ListenAddress | undefined;
}

/** The run options checked; a bad value is a UsageError naming the flag. */
export function runArgs(values: RunArgValues): RunArgs {
  const output = asUsage(() => outputSettingsFromArgs(values));
  const metricsAt = asUsage(() => parseMetricsOption(values.metrics));
  const overrides = parseSetArgs(values.set ?? []);
  if (values.epochs !== undefined) overrides['train.epochs'] = values.epochs;
  if (values['auto-resume'] && !values['run-dir']) throw new UsageError('--auto-resume needs --run-dir (the directory a restarted job finds its checkpoints in)');
  const resume = values['auto-resume'] ? ('auto' as const) : (values.resume ?? false);
  return { configPath: values.config, runDir: values['run-dir'], resume, overrides, output, metricsAt };
}

/**
 * `--resume` without `--run-dir`: the latest run under the config's checkpoint.dir (the one whose
 * checkpoint was written last), with a line saying which; a RunArgs with a run directory is returned
 * as is. Nothing to resume is an error, and no directory is created.
 */
export async function resolveLatestRun(a: RunArgs): Promise<{ run: RunArgs; note?: string }> {
  if (a.resume !== true || a.runDir !== undefined) return { run: a };
  const checkpointDir = (await loadConfig(a.configPath, a.overrides)).checkpoint.dir;
  const runDir = latestRunDir(checkpointDir);
  if (!runDir) throw new Error(noRunToResume(checkpointDir));
  return { run: { ...a, runDir }, note: `--resume: continuing the latest run under ${checkpointDir}: ${runDir}` };
}

/**
 * What to print instead of training when resuming a run that already completed (a restart after the
 * end: a reboot, a replaced pod, a requeued job), `summaryText` giving its results; else undefined.
 */
export function completedRunText(a: RunArgs, summaryText: (s: Summary) => string): string | undefined {
  const completed = completedRun({ runDir: a.runDir, resume: a.resume });
  return completed ? `${completed.message}\n${summaryText(completed.summary)}` : undefined;
}
