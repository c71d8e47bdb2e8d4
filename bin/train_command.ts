// `sam-lora train`: a training run on this host. Without --config, the embedded demo job.

import * as path from 'node:path';
import { demoReport } from '../tools/evaluation/demo_report.js';
import { launchLocal } from '../launcher/local_processes.js';
import { runLocal } from '../launcher/in_process_run.js';
import type { Summary } from '../coordinator/trainer.js';
import { assertCudaAvailable } from '../shared/graph/runtime.js';
import { UsageError } from './cli_errors.js';
import { type ParsedArgs, defineCommand } from './define_command.js';
import { RUN_EXIT_STATUS, runExitStatus, withGracefulStop } from './graceful_stop.js';
import { RunEvents } from '../coordinator/run_events.js';
import { serveRunMetrics } from '../coordinator/metrics/serve_run_metrics.js';
import { LOG_USAGE } from '../shared/log/log_settings.js';
import { OUTPUT_USAGE, notEvaluatedAfter, startRunOutput } from './run_output.js';
import { RUN_ARG_OPTIONS, completedRunText, resolveLatestRun, runArgs } from './run_args.js';
import { resumeHint } from './resume_hint.js';

const USAGE = `usage: sam-lora train [--config FILE] [--run-dir DIR] [--resume | --auto-resume] [--set KEY=VALUE ...]
                      [--epochs N] [--device cpu|cuda] [--gpu N] [--threads N]
                      [--workers K | --gpus 0,1,...] [--groups G] [--no-dashboard] [--progress-interval S] [--log-level LEVEL] [--log-file FILE] [--log-pretty]
                      [--metrics HOST:PORT]

  Trains LoRA adapters on SAM. Without --config it runs the embedded demo job: the bundled small SAM
  (pretrained by this project on plain objects) gets a LoRA on a generated domain it is weak on
  (objects with holes, low contrast, textured backgrounds), on the CPU, then prints base vs LoRA on
  the held-out split and the base's own domain with the adapter off and on. With a config (ours or
  the reference project's config.yaml) it runs that job.

  --config FILE    YAML training configuration (README, "Configuration")
  --run-dir DIR    run directory (default: <checkpoint.dir>/<timestamp>)
  --resume         continue from the run directory's latest checkpoint; without --run-dir, the latest
                   run under checkpoint.dir (runs/: the one checkpointed last)
  --auto-resume    resume when --run-dir holds a checkpoint, else start (restarted jobs: systemd, Slurm)
                   With either, a run whose summary.json says it completed is not trained again:
                   its results are printed and the command exits 0.
  --set KEY=VALUE  override a config key (repeatable), e.g. --set train.epochs=3
  --epochs N, --device cpu|cuda, --gpu N, --threads N
                   shorthands for --set train.epochs=N, runtime.device, runtime.gpu, runtime.threads
  --workers K      data-parallel on this host: a coordinator and K CPU worker processes over gRPC
                   (loopback, a fresh token); --threads is then per worker
  --gpus 0,1,...   one worker process per listed CUDA device (needs the CUDA execution provider)
  --groups G       with --workers/--gpus: G host groups, each behind an aggregator process that adds
                   its workers' gradients up first (README "Host groups"); same weights as without
  --metrics HOST:PORT
                   serve Prometheus metrics at http://HOST:PORT/metrics during the run, e.g.
                   127.0.0.1:9464 (port 0: any free port); README "Metrics" lists them

${OUTPUT_USAGE}
${LOG_USAGE}
${RUN_EXIT_STATUS}
`;

const TRAIN_OPTIONS = {
  ...RUN_ARG_OPTIONS,
  device: { type: 'string' },
  gpu: { type: 'string' },
  threads: { type: 'string' },
  workers: { type: 'string' },
  gpus: { type: 'string' },
  groups: { type: 'string' },
} as const;

async function runTrain({ values }: ParsedArgs<typeof TRAIN_OPTIONS>): Promise<number> {
  const parsed = runArgs(values);
  const { overrides, output, metricsAt } = parsed;
  if (values.device !== undefined) overrides['runtime.device'] = values.device;
  if (values.gpu !== undefined) overrides['runtime.gpu'] = values.gpu;
  if (values.threads !== undefined) overrides['runtime.threads'] = values.threads;

  let workers: number | undefined;
  let gpus: number[] | undefined;
  if (values.workers !== undefined) {
    workers = Number(values.workers);
    if (!Number.isInteger(workers) || workers < 1) throw new UsageError(`--workers must be a positive integer (got ${values.workers})`);
  }
  if (values.gpus !== undefined) {
    gpus = values.gpus.split(',').map((g) => Number(g.trim()));
    if (gpus.some((g) => !Number.isInteger(g) || g < 0) || (workers !== undefined && workers !== gpus.length)) {
      throw new UsageError(`--gpus takes device numbers like 0,1,2 (one worker each; got ${values.gpus})`);
    }
    assertCudaAvailable();
  }

  const { run, note } = await resolveLatestRun(parsed);
  if (note) process.stderr.write(`${note}\n`);
  let groups: number | undefined;
  if (values.groups !== undefined) {
    groups = Number(values.groups);
    const count = workers ?? gpus?.length;
    if (count === undefined) throw new UsageError('--groups needs --workers K or --gpus (the workers to group)');
    if (!Number.isInteger(groups) || groups < 1 || groups > count) throw new UsageError(`--groups must be a whole number from 1 to the workers (${count}); got ${values.groups}`);
  }

  const completed = completedRunText(run, summaryText);
  if (completed) {
    process.stdout.write(completed);
    return 0;
  }

  return withGracefulStop(async (signal, stop) => {
    const events = new RunEvents();
    let runDir = run.runDir;
    events.on((e) => {
      if (e.kind === 'run_started' && e.info.runDir) runDir = stop.runDir = e.info.runDir;
    });
    const metrics = metricsAt ? await serveRunMetrics({ listen: metricsAt, events, requiredWorkers: groups ?? workers ?? gpus?.length ?? 1 }) : undefined;
    const display = startRunOutput({ ...output, events, signal, stop, bindings: { role: 'coordinator' } });
    if (metrics) events.emit({ kind: 'log', level: 'info', text: `serving metrics at ${metrics.url}` });
    const common = {
      configPath: run.configPath,
      overrides,
      runDir: run.runDir,
      resume: run.resume,
      signal,
      events,
    };
    const distributed = workers !== undefined || gpus !== undefined;
    const summary = await (distributed
      ? launchLocal({ ...common, workers: workers ?? gpus!.length, ...(gpus ? { gpus } : {}), ...(values.threads ? { threads: Number(values.threads) } : {}), ...(groups ? { groups } : {}), workerLogLevel: output.log.level })
      : runLocal(common)
    ).finally(() => Promise.all([display.close(), metrics?.close()]));
    process.stdout.write(`\n${summaryText(summary)}${resumeHint(summary, runDir)}`);
    // The embedded demo job ends with what it is for: base vs LoRA, as `sam-lora eval` shows it.
    const final = summary.checkpoints.final;
    if (run.configPath === undefined && summary.status === 'completed' && final && summary.model.checkpoint) {
      const report = await demoReport({ runDir: path.dirname(path.dirname(final)), lora: path.join(final, 'lora.safetensors'), baseCheckpoint: summary.model.checkpoint });
      process.stdout.write(`\n${report.text}`);
    }
    return runExitStatus(summary.status, stop.stoppedBy());
  });
}

/** The summary printed after a run (and for a run found completed). */
function summaryText(s: Summary): string {
  const fmt = (e: { dice: number; iou: number } | null): string => (e ? `Dice ${e.dice.toFixed(4)}, IoU ${e.iou.toFixed(4)}` : 'n/a (no test split)');
  const lora = s.checkpoints.final ?? s.checkpoints.latest;
  return (
    `${s.status}: ${s.steps} steps in ${s.wall_s.toFixed(1)} s, final loss ${s.final_loss?.toFixed(4) ?? 'n/a'}\n` +
    `held-out before training: ${fmt(s.eval_before)}\n` +
    `held-out after training:  ${s.status === 'completed' ? fmt(s.eval_after) : notEvaluatedAfter(s)}\n` +
    `LoRA: ${lora ? `${lora}/lora.safetensors` : 'none (no checkpoint written)'}\n`
  );
}

export const trainCommand = defineCommand({
  name: 'train',
  summary: 'train LoRA adapters (no --config: the embedded demo job)',
  usage: USAGE,
  options: TRAIN_OPTIONS,
  run: runTrain,
});
