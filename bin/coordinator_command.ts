// `sam-lora coordinator`: serves a training run to workers that join over gRPC. Without --config,
// the same embedded demo job as `sam-lora train`.

import { runDistributed } from '../coordinator/distributed_run.js';
import type { Summary } from '../coordinator/trainer.js';
import { type ServerSecurity, TOKEN_ENV_VAR } from '../shared/wire/security.js';
import { UsageError } from './cli_errors.js';
import { type ParsedArgs, defineCommand } from './define_command.js';
import { RUN_EXIT_STATUS, runExitStatus, withGracefulStop } from './graceful_stop.js';
import { RunEvents } from '../coordinator/run_events.js';
import { serveRunMetrics } from '../coordinator/metrics/serve_run_metrics.js';
import { LOG_USAGE } from '../shared/log/log_settings.js';
import { OUTPUT_USAGE, notEvaluatedAfter, startRunOutput } from './run_output.js';
import { RUN_ARG_OPTIONS, completedRunText, resolveLatestRun, runArgs } from './run_args.js';
import { resumeHint } from './resume_hint.js';
import { runToken } from './run_token.js';

const USAGE = `usage: sam-lora coordinator --listen HOST:PORT [--config FILE] [--run-dir DIR] [--resume | --auto-resume]
                            [--min-workers N] [--token-file FILE] [--tls-cert F --tls-key F [--tls-client-ca F]]
                            [--bf16] [--step-deadline SECONDS] [--heartbeat-interval SECONDS] [--set KEY=VALUE ...] [--epochs N]
                            [--no-dashboard] [--progress-interval S] [--log-level LEVEL] [--log-file FILE] [--log-pretty]
                            [--metrics HOST:PORT]

  Runs the training loop and waits for workers (sam-lora worker --coordinator HOST:PORT) to join.
  Workers get the run's configuration and each sample's bytes, so they need no shared filesystem
  (only the SAM checkpoint at the same path). Workers may join and leave at any step; a worker that
  fails or misses the step deadline is evicted and its samples go to the others. Training waits,
  saying so, while fewer than --min-workers are connected.

  --listen HOST:PORT       address to serve on (0.0.0.0:50051 for every interface)
  --config FILE            training configuration (default: the embedded demo job)
  --run-dir DIR            run directory; with --resume, continue from its latest checkpoint
                           (--resume alone: the latest run under checkpoint.dir, runs/)
  --auto-resume            resume when --run-dir holds a checkpoint, else start a new run (for pods and
                           jobs that get restarted: Kubernetes, Slurm --requeue). With either, a run
                           whose summary.json says it completed is not trained again: its results
                           are printed and the command exits 0.
  --min-workers N          train only while at least N workers are connected and free to take a share (default 1);
                           a host group's aggregator counts as the workers it serves
  --token-file FILE        shared secret every call must carry (default: $${TOKEN_ENV_VAR} when set);
                           without a token any client that reaches the port can join
  --tls-cert F --tls-key F serve over TLS; add --tls-client-ca F to require client certificates (mutual TLS)
  --bf16                   send weights and gradients as bfloat16 (half the bytes, ~3 significant digits)
  --step-deadline SECONDS  a worker that does not answer a step within this is evicted. Default: a
                           share's deadline is max(30 s, 4 x the worker's observed time for a share
                           that size), 600 s for its first share (session warm-up)
  --heartbeat-interval SECONDS  heartbeats both ways this often (default 2); a worker silent for 5 of
                           them is evicted, and a worker drops a coordinator silent for max(30 s, 10)
  --set KEY=VALUE, --epochs N   configuration overrides, as for sam-lora train
  --metrics HOST:PORT      serve Prometheus metrics at http://HOST:PORT/metrics (a port of its own, not
                           --listen's), e.g. 0.0.0.0:9464; README "Metrics" lists them

${OUTPUT_USAGE}
${LOG_USAGE}
${RUN_EXIT_STATUS}
`;

const COORDINATOR_OPTIONS = {
  ...RUN_ARG_OPTIONS,
  listen: { type: 'string' },
  'min-workers': { type: 'string' },
  'token-file': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'tls-client-ca': { type: 'string' },
  bf16: { type: 'boolean' },
  'step-deadline': { type: 'string' },
  'heartbeat-interval': { type: 'string' },
} as const;

async function runCoordinatorCommand({ values }: ParsedArgs<typeof COORDINATOR_OPTIONS>): Promise<number> {
  if (!values.listen || !/^.+:\d+$/.test(values.listen)) throw new UsageError('--listen HOST:PORT is required');
  const minWorkers = values['min-workers'] === undefined ? 1 : Number(values['min-workers']);
  if (!Number.isInteger(minWorkers) || minWorkers < 1) throw new UsageError(`--min-workers must be a positive integer (got ${values['min-workers']})`);
  // Without it, each share's deadline follows the worker's observed pace (coordinator/step_deadline.ts).
  const deadline = values['step-deadline'] === undefined ? undefined : Number(values['step-deadline']);
  if (deadline !== undefined && !(deadline > 0)) throw new UsageError(`--step-deadline must be a positive number of seconds (got ${values['step-deadline']})`);
  const heartbeat = values['heartbeat-interval'] === undefined ? 2 : Number(values['heartbeat-interval']);
  if (!(heartbeat >= 0.1 && heartbeat <= 3600)) throw new UsageError(`--heartbeat-interval must be a number of seconds from 0.1 to 3600 (got ${values['heartbeat-interval']})`);
  if (Boolean(values['tls-cert']) !== Boolean(values['tls-key'])) throw new UsageError('--tls-cert and --tls-key go together');
  if (values['tls-client-ca'] && !values['tls-cert']) throw new UsageError('--tls-client-ca needs --tls-cert and --tls-key');
  const security: ServerSecurity = values['tls-cert']
    ? values['tls-client-ca']
      ? { mode: 'mtls', certFile: values['tls-cert'], keyFile: values['tls-key']!, clientCaFile: values['tls-client-ca'] }
      : { mode: 'tls', certFile: values['tls-cert'], keyFile: values['tls-key']! }
    : { mode: 'insecure' };
  const { run, note } = await resolveLatestRun(runArgs(values));
  if (note) process.stderr.write(`${note}\n`);
  const completed = completedRunText(run, summaryLine);
  if (completed) {
    process.stdout.write(completed);
    return 0;
  }

  const listen = values.listen;
  return withGracefulStop(async (signal, stop) => {
    const events = new RunEvents();
    const display = startRunOutput({ ...run.output, events, signal, stop, bindings: { role: 'coordinator' } });
    let runDir = run.runDir;
    events.on((e) => {
      if (e.kind === 'run_started' && e.info.runDir) runDir = stop.runDir = e.info.runDir;
    });
    try {
      const token = await runToken(values['token-file']);
      if (!token) events.emit({ kind: 'log', level: 'warn', text: 'no token (--token-file or SAMLORA_TOKEN): any client that reaches the port can join; use this only on a trusted network' });
      const metrics = run.metricsAt ? await serveRunMetrics({ listen: run.metricsAt, events, requiredWorkers: minWorkers }) : undefined;
      if (metrics) events.emit({ kind: 'log', level: 'info', text: `serving metrics at ${metrics.url}` });
      const summary = await runDistributed({
        configPath: run.configPath,
        overrides: run.overrides,
        runDir: run.runDir,
        resume: run.resume,
        listen,
        minWorkers,
        ...(token ? { token } : {}),
        security,
        encoding: values.bf16 ? 'bf16' : 'fp32',
        ...(deadline !== undefined ? { deadlineMs: deadline * 1000 } : {}),
        heartbeatMs: Math.round(heartbeat * 1000),
        signal,
        events,
      }).finally(() => Promise.all([display.close(), metrics?.close()]));
      process.stdout.write(`\n${summaryLine(summary)}${resumeHint(summary, runDir)}`);
      return runExitStatus(summary.status, stop.stoppedBy());
    } catch (err) {
      // Off the screen before the error is reported.
      await display.close();
      throw err;
    }
  });
}

/** The summary printed after a run (and for a run found completed). */
function summaryLine(s: Summary): string {
  const fmt = (e: { dice: number; iou: number } | null): string => (e ? `Dice ${e.dice.toFixed(4)}, IoU ${e.iou.toFixed(4)}` : 'n/a');
  return `${s.status}: ${s.steps} steps, held-out before ${fmt(s.eval_before)}, after ${s.status === 'completed' ? fmt(s.eval_after) : notEvaluatedAfter(s)}\n`;
}

export const coordinatorCommand = defineCommand({
  name: 'coordinator',
  summary: 'serve a distributed training run to gRPC workers',
  usage: USAGE,
  options: COORDINATOR_OPTIONS,
  run: runCoordinatorCommand,
});
