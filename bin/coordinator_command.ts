// `sam-lora coordinator`: serves a training run to workers that join over gRPC. Without --config,
// the same embedded demo job as `sam-lora train`.

import { parseArgs } from 'node:util';
import { runDistributed } from '../coordinator/distributed_run.js';
import { completedRun } from '../coordinator/prepare_run.js';
import type { Summary } from '../coordinator/trainer.js';
import { parseSetArgs } from '../shared/config/index.js';
import { type ServerSecurity, SharedToken, TOKEN_ENV_VAR } from '../shared/wire/security.js';
import type { Command } from './commands.js';
import { RUN_EXIT_STATUS, runExitStatus, withGracefulStop } from './graceful_stop.js';
import { RunEvents } from '../coordinator/run_events.js';
import { serveRunMetrics } from '../coordinator/metrics/serve_run_metrics.js';
import { type ListenAddress, parseMetricsOption } from '../shared/prometheus/listen_address.js';
import { LOG_ARG_OPTIONS, LOG_USAGE } from '../shared/log/log_settings.js';
import { OUTPUT_ARG_OPTIONS, OUTPUT_USAGE, type OutputSettings, notEvaluatedAfter, outputSettingsFromArgs, startRunOutput } from './run_output.js';
import { errorMessage } from '../shared/errors/error_message.js';

const USAGE = `usage: sam-lora coordinator --listen HOST:PORT [--config FILE] [--run-dir DIR] [--resume | --auto-resume]
                            [--min-workers N] [--token-file FILE] [--tls-cert F --tls-key F [--tls-client-ca F]]
                            [--bf16] [--step-deadline SECONDS] [--set KEY=VALUE ...] [--epochs N]
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
  --auto-resume            resume when --run-dir holds a checkpoint, else start a new run (for pods and
                           jobs that get restarted: Kubernetes, Slurm --requeue). With either, a run
                           whose summary.json says it completed is not trained again: its results
                           are printed and the command exits 0.
  --min-workers N          train only while at least N workers are connected (default 1)
  --token-file FILE        shared secret every call must carry (default: $${TOKEN_ENV_VAR} when set);
                           without a token any client that reaches the port can join
  --tls-cert F --tls-key F serve over TLS; add --tls-client-ca F to require client certificates (mutual TLS)
  --bf16                   send weights and gradients as bfloat16 (half the bytes, ~3 significant digits)
  --step-deadline SECONDS  a worker that does not answer a step within this is evicted (default 600)
  --set KEY=VALUE, --epochs N   configuration overrides, as for sam-lora train
  --metrics HOST:PORT      serve Prometheus metrics at http://HOST:PORT/metrics (a port of its own, not
                           --listen's), e.g. 0.0.0.0:9464; README "Metrics" lists them

${OUTPUT_USAGE}
${LOG_USAGE}
${RUN_EXIT_STATUS}
`;

async function runCoordinatorCommand(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        listen: { type: 'string' },
        config: { type: 'string' },
        'run-dir': { type: 'string' },
        resume: { type: 'boolean' },
        'auto-resume': { type: 'boolean' },
        'min-workers': { type: 'string' },
        'token-file': { type: 'string' },
        'tls-cert': { type: 'string' },
        'tls-key': { type: 'string' },
        'tls-client-ca': { type: 'string' },
        bf16: { type: 'boolean' },
        'step-deadline': { type: 'string' },
        set: { type: 'string', multiple: true },
        epochs: { type: 'string' },
        metrics: { type: 'string' },
        ...OUTPUT_ARG_OPTIONS,
        ...LOG_ARG_OPTIONS,
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    process.stderr.write(`sam-lora coordinator: ${errorMessage(err)}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const usage = (msg: string): number => {
    process.stderr.write(`sam-lora coordinator: ${msg}\n\n${USAGE}`);
    return 2;
  };
  if (!values.listen || !/^.+:\d+$/.test(values.listen)) return usage('--listen HOST:PORT is required');
  const minWorkers = values['min-workers'] === undefined ? 1 : Number(values['min-workers']);
  if (!Number.isInteger(minWorkers) || minWorkers < 1) return usage(`--min-workers must be a positive integer (got ${values['min-workers']})`);
  const deadline = values['step-deadline'] === undefined ? 600 : Number(values['step-deadline']);
  if (!(deadline > 0)) return usage(`--step-deadline must be a positive number of seconds (got ${values['step-deadline']})`);
  if (Boolean(values['tls-cert']) !== Boolean(values['tls-key'])) return usage('--tls-cert and --tls-key go together');
  if (values['tls-client-ca'] && !values['tls-cert']) return usage('--tls-client-ca needs --tls-cert and --tls-key');
  const security: ServerSecurity = values['tls-cert']
    ? values['tls-client-ca']
      ? { mode: 'mtls', certFile: values['tls-cert'], keyFile: values['tls-key']!, clientCaFile: values['tls-client-ca'] }
      : { mode: 'tls', certFile: values['tls-cert'], keyFile: values['tls-key']! }
    : { mode: 'insecure' };
  let output: OutputSettings;
  let metricsAt: ListenAddress | undefined;
  try {
    output = outputSettingsFromArgs(values);
    metricsAt = parseMetricsOption(values.metrics);
  } catch (err) {
    return usage(errorMessage(err));
  }
  const overrides = parseSetArgs(values.set ?? []);
  if (values.epochs !== undefined) overrides['train.epochs'] = values.epochs;

  if (values['auto-resume'] && !values['run-dir']) return usage('--auto-resume needs --run-dir (the directory a restarted job finds its checkpoints in)');
  const resume = values['auto-resume'] ? ('auto' as const) : (values.resume ?? false);
  // A restart after the end (a replaced pod, a requeued job) reports the run and trains nothing.
  const completed = completedRun({ runDir: values['run-dir'], resume });
  if (completed) {
    process.stdout.write(`${completed.message}\n${summaryLine(completed.summary)}`);
    return 0;
  }

  const listen = values.listen;
  return withGracefulStop(async (signal, stop) => {
    const events = new RunEvents();
    const display = startRunOutput({ ...output, events, signal, stop, bindings: { role: 'coordinator' } });
    try {
      const token = values['token-file'] ? await SharedToken.fromFile(values['token-file']) : process.env[TOKEN_ENV_VAR] ? SharedToken.fromEnv() : undefined;
      if (!token) events.emit({ kind: 'log', level: 'warn', text: 'no token (--token-file or SAMLORA_TOKEN): any client that reaches the port can join; use this only on a trusted network' });
      const metrics = metricsAt ? await serveRunMetrics({ listen: metricsAt, events, requiredWorkers: minWorkers }) : undefined;
      if (metrics) events.emit({ kind: 'log', level: 'info', text: `serving metrics at ${metrics.url}` });
      const summary = await runDistributed({
        configPath: values.config,
        overrides,
        runDir: values['run-dir'],
        resume,
        listen,
        minWorkers,
        ...(token ? { token } : {}),
        security,
        encoding: values.bf16 ? 'bf16' : 'fp32',
        deadlineMs: deadline * 1000,
        signal,
        events,
      }).finally(() => Promise.all([display.close(), metrics?.close()]));
      process.stdout.write(`\n${summaryLine(summary)}`);
      return runExitStatus(summary.status, stop.stoppedBy());
    } catch (err) {
      await display.close();
      process.stderr.write(`sam-lora coordinator: ${errorMessage(err)}\n`);
      return 1;
    }
  });
}

/** The summary printed after a run (and for a run found completed). */
function summaryLine(s: Summary): string {
  const fmt = (e: { dice: number; iou: number } | null): string => (e ? `Dice ${e.dice.toFixed(4)}, IoU ${e.iou.toFixed(4)}` : 'n/a');
  return `${s.status}: ${s.steps} steps, held-out before ${fmt(s.eval_before)}, after ${s.status === 'completed' ? fmt(s.eval_after) : notEvaluatedAfter(s)}\n`;
}

export const coordinatorCommand: Command = {
  name: 'coordinator',
  summary: 'serve a distributed training run to gRPC workers',
  run: runCoordinatorCommand,
};
