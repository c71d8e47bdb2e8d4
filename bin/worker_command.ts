// `sam-lora worker`: a GPU-pinned (or CPU) worker of a distributed run. Validates its arguments and
// its device at once (a missing CUDA provider is a one-line message, not an ORT stack trace), then
// joins the coordinator: serveCoordinator() is the single place the gRPC client plugs in.

import { assertCudaAvailable, CudaUnavailableError, type Device } from '../shared/graph/runtime.js';
import type { ClientSecurity } from '../shared/wire/security.js';
import { CoordinatorUnreachableError, WorkerRefusedError, runRemoteWorker } from '../worker/grpc_worker.js';
import { serveWorkerMetrics } from '../worker/metrics/serve_worker_metrics.js';
import { type ListenAddress, parseMetricsOption } from '../shared/prometheus/listen_address.js';
import { LOG_ARG_OPTIONS, LOG_USAGE, type LogSettings, logSettingsFromArgs } from '../shared/log/log_settings.js';
import { CommandFailure, UsageError, asUsage } from './cli_errors.js';
import { type ParsedArgs, defineCommand, parseCommandArgs } from './define_command.js';
import { runToken } from './run_token.js';
import { signalExitStatus } from './graceful_stop.js';
import { workerLogging } from './worker_logging.js';

const USAGE = `usage: sam-lora worker --coordinator HOST:PORT (--gpu N | --device cpu) [--threads N]
                      [--group NAME] [--aggregator HOST:PORT]
                      [--token-file FILE] [--metrics HOST:PORT] [--log-level LEVEL] [--log-file FILE] [--log-pretty]

  Joins a training run as one worker: connects to the coordinator, receives the run's configuration
  and samples, and computes gradients and evaluations on one device until the run ends. Steps run in
  a compute thread, so the worker keeps answering the coordinator's heartbeats during long steps.

  --coordinator HOST:PORT  the coordinator's address (an IPv6 host in brackets: [::1]:50051)
  --gpu N                  compute on CUDA device N. N indexes the GPUs CUDA shows this process,
                           not the physical ones: with CUDA_VISIBLE_DEVICES=2,3, --gpu 1 is physical
                           GPU 3. Under Slurm (--gpus-per-task=1) or Kubernetes (nvidia.com/gpu: 1)
                           the scheduler sets CUDA_VISIBLE_DEVICES to the one GPU it gave the task,
                           and that GPU is --gpu 0. Run one worker process per GPU.
                           Needs onnxruntime-node's CUDA execution provider
                           (libonnxruntime_providers_cuda.so), which a plain install skips:
                           npm ci && npm run install:cuda (CUDA 12 and cuDNN 9 on the host)
  --device cpu             compute on the CPU instead (--device cuda is the same as giving --gpu N)
  --threads N              ORT intra-op threads (default 0: ORT's choice, one per physical core)
  --group NAME             this worker's host group (default: the hostname): the coordinator adds one
                           group's gradients first, so runs with the same groups give the same weights
                           whether or not an aggregator serves them (README "Host groups")
  --aggregator HOST:PORT   go through the host group's aggregator (sam-lora aggregator): one gradient
                           sum and one weights download per group and step at the coordinator. When the
                           aggregator stops, dies or cannot be reached while the coordinator serves (3 tries
                           over 15 s), the worker connects to --coordinator directly for the rest of the
                           run; while the coordinator is not up either, it waits as for the coordinator
  --token-file FILE        file holding the run's shared secret (the whole file; a trailing newline
                           is ignored), sent to the coordinator to be admitted; keep it readable by
                           you only.
                           Without it, the SAMLORA_TOKEN environment variable is used when set.

  A lost connection (coordinator restart, network), a coordinator that stops before the end of the
  run or silent past its timeout, and an eviction are followed by a new join (backoff with jitter,
  the model kept); the worker exits 0 only when the coordinator says the run is complete. A
  refusal (wrong token, version or checkpoint) ends it with the reason.

  --tls-ca FILE            connect over TLS, trusting this CA (default: the system's roots with --tls-cert)
  --tls-cert F --tls-key F present this client certificate (mutual TLS)
  --connect-attempts N     give up after N failed connection attempts in a row (default: keep trying)
  --give-up-after SECONDS  give up when no coordinator could be reached for this long (default: keep
                           trying), exiting 3: a worker Job left behind by a finished run frees its GPU
  --metrics HOST:PORT      serve this worker's Prometheus metrics at http://HOST:PORT/metrics (steps,
                           compute time, bytes, process; GPU memory and utilisation via nvidia-smi on
                           CUDA workers); port 0: any free port, printed at start

  Logs are JSON lines on stderr (with the run and worker ids once joined):
${LOG_USAGE}

  Exit status: 0 the run is complete, 1 failed (the message says why), 2 usage error, 3 no coordinator
  for --give-up-after seconds, 143 (SIGTERM) or 130 (SIGINT) when a signal made it leave the run
  (128 + the signal: an orchestrator replaces it).
`;

/** Exit status after --give-up-after ran out (an orchestrator can fail the whole job on it). */
export const GAVE_UP_EXIT_STATUS = 3;

/** What a worker or an aggregator says when its upstream (coordinator or aggregator) refused it or stayed unreachable. */
export function asUpstreamFailure(err: unknown): unknown {
  if (err instanceof WorkerRefusedError) return new Error(`refused: ${err.message}`, { cause: err });
  if (err instanceof CoordinatorUnreachableError) return new CommandFailure(`${err.message} (--give-up-after)`, GAVE_UP_EXIT_STATUS, { cause: err });
  return err;
}

export interface WorkerCommandOptions {
  coordinator: { host: string; port: number };
  device: Device;
  /** ORT intra-op threads; 0: ORT's default. */
  threads: number;
  tokenFile?: string;
  /** Give up after this many failed connections in a row (default: keep trying). */
  connectAttempts?: number;
  /** Give up after this many seconds without reaching a coordinator (default: keep trying). */
  giveUpAfterSeconds?: number;
  /** TLS to the coordinator (default: plaintext). */
  security?: ClientSecurity;
  /** Serve the worker's Prometheus metrics here (--metrics). */
  metrics?: ListenAddress;
  /** --log-level/--log-file/--log-pretty (default: info, JSON, stderr). */
  log?: LogSettings;
  /** --group: the host group (default: the hostname, named by the coordinator). */
  group?: string;
  /** --aggregator: the host group's aggregator. */
  aggregator?: { host: string; port: number };
}

/** Parses HOST:PORT ([v6]:PORT for IPv6). */
export function parseAddress(arg: string, flag = '--coordinator'): { host: string; port: number } {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(arg)) throw new UsageError(`${flag} ${arg}: give HOST:PORT without a scheme (e.g. ${arg.replace(/^[^:]+:\/\//, '')})`);
  const m = /^\[([^\]]+)\]:([^:]*)$/.exec(arg) ?? /^([^:[\]]+):([^:]*)$/.exec(arg);
  if (!m) throw new UsageError(`${flag} ${arg}: expected HOST:PORT, e.g. 10.0.0.5:50051 or [::1]:50051`);
  const port = /^\d{1,5}$/.test(m[2]!) ? Number(m[2]) : NaN;
  if (!(port >= 1 && port <= 65535)) throw new UsageError(`${flag} ${arg}: the port must be a number from 1 to 65535`);
  return { host: m[1]!, port };
}

function nonNegInt(flag: string, v: string): number {
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(Number(v))) throw new UsageError(`${flag} ${v}: expected a whole number >= 0`);
  return Number(v);
}

/**
 * The devices CUDA will show this process, per CUDA_VISIBLE_DEVICES (undefined: not set, all of them).
 * CUDA reads the comma-separated list up to the first invalid entry; '' or '-1' hides every GPU.
 */
export function visibleGpuCount(cudaVisibleDevices: string | undefined): number | undefined {
  if (cudaVisibleDevices === undefined) return undefined;
  let n = 0;
  for (const entry of cudaVisibleDevices.split(',').map((e) => e.trim())) {
    if (!/^(\d+|GPU-[0-9a-f-]+|MIG-[\w/-]+)$/i.test(entry)) break;
    n++;
  }
  return n;
}

/** Checks --gpu N against CUDA_VISIBLE_DEVICES, explaining the numbering when it cannot be right. */
export function checkVisibleGpu(n: number, env: NodeJS.ProcessEnv): void {
  const cvd = env.CUDA_VISIBLE_DEVICES;
  const count = visibleGpuCount(cvd);
  if (count === undefined || n < count) return;
  if (count === 0) throw new UsageError(`--gpu ${n}: CUDA_VISIBLE_DEVICES="${cvd}" hides every GPU from this process`);
  throw new UsageError(
    `--gpu ${n}: CUDA_VISIBLE_DEVICES="${cvd}" shows this process ${count} GPU${count === 1 ? '' : 's'}, numbered 0${count > 1 ? `..${count - 1}` : ''} ` +
      '(--gpu indexes the visible GPUs, not the physical ones; under Slurm --gpus-per-task=1 or Kubernetes nvidia.com/gpu: 1 use --gpu 0)',
  );
}

const WORKER_OPTIONS = {
  coordinator: { type: 'string' },
  group: { type: 'string' },
  aggregator: { type: 'string' },
  gpu: { type: 'string' },
  device: { type: 'string' },
  threads: { type: 'string' },
  'token-file': { type: 'string' },
  'connect-attempts': { type: 'string' },
  'give-up-after': { type: 'string' },
  'tls-ca': { type: 'string' },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  metrics: { type: 'string' },
  ...LOG_ARG_OPTIONS,
} as const;

/** The command line as options; 'help' for --help. Throws UsageError for anything wrong. */
export function parseWorkerArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): WorkerCommandOptions | 'help' {
  const parsed = parseCommandArgs({ options: WORKER_OPTIONS }, argv);
  return parsed === 'help' ? 'help' : workerOptions(parsed, env);
}

function workerOptions({ values }: ParsedArgs<typeof WORKER_OPTIONS>, env: NodeJS.ProcessEnv): WorkerCommandOptions {
  if (values.coordinator === undefined) throw new UsageError('missing --coordinator HOST:PORT');
  const coordinator = parseAddress(values.coordinator);
  if (values.group !== undefined) checkGroupName('--group', values.group);
  const aggregator = values.aggregator === undefined ? undefined : parseAddress(values.aggregator, '--aggregator');

  if (values.device !== undefined && values.device !== 'cpu' && values.device !== 'cuda') throw new UsageError(`--device ${values.device}: expected cpu (or cuda with --gpu N)`);
  let device: Device;
  if (values.gpu !== undefined) {
    if (values.device === 'cpu') throw new UsageError('--gpu and --device cpu exclude each other: choose one');
    const n = nonNegInt('--gpu', values.gpu);
    checkVisibleGpu(n, env);
    device = { kind: 'cuda', deviceId: n };
  } else if (values.device === 'cpu') {
    device = { kind: 'cpu' };
  } else if (values.device === 'cuda') {
    throw new UsageError('--device cuda needs --gpu N to say which GPU (--gpu 0 when CUDA_VISIBLE_DEVICES shows this process one GPU)');
  } else {
    throw new UsageError('choose the device: --gpu N (a CUDA device) or --device cpu');
  }
  const threads = values.threads === undefined ? 0 : nonNegInt('--threads', values.threads);
  if (values['token-file'] === '') throw new UsageError('--token-file needs a file');
  const attempts = values['connect-attempts'] === undefined ? undefined : nonNegInt('--connect-attempts', values['connect-attempts']);
  const giveUp = values['give-up-after'] === undefined ? undefined : Number(values['give-up-after']);
  if (giveUp !== undefined && !(giveUp > 0 && Number.isFinite(giveUp))) throw new UsageError(`--give-up-after must be a positive number of seconds (got ${values['give-up-after']})`);
  if (Boolean(values['tls-cert']) !== Boolean(values['tls-key'])) throw new UsageError('--tls-cert and --tls-key go together (mutual TLS)');
  const tls = values['tls-ca'] !== undefined || values['tls-cert'] !== undefined;
  const security: ClientSecurity | undefined = !tls
    ? undefined
    : values['tls-cert']
      ? { mode: 'mtls', ...(values['tls-ca'] ? { caFile: values['tls-ca'] } : {}), certFile: values['tls-cert'], keyFile: values['tls-key']! }
      : { mode: 'tls', ...(values['tls-ca'] ? { caFile: values['tls-ca'] } : {}) };
  const metrics = asUsage(() => parseMetricsOption(values.metrics));
  const logGiven = Object.keys(LOG_ARG_OPTIONS).some((k) => values[k as keyof typeof LOG_ARG_OPTIONS] !== undefined);
  const log = logGiven ? asUsage(() => logSettingsFromArgs(values)) : undefined;
  return {
    coordinator,
    device,
    threads,
    ...(log ? { log } : {}),
    ...(metrics ? { metrics } : {}),
    ...(values['token-file'] !== undefined ? { tokenFile: values['token-file'] } : {}),
    ...(attempts ? { connectAttempts: attempts } : {}),
    ...(giveUp !== undefined ? { giveUpAfterSeconds: giveUp } : {}),
    ...(security ? { security } : {}),
    ...(values.group !== undefined ? { group: values.group } : {}),
    ...(aggregator ? { aggregator } : {}),
  };
}

/** A host group name: what the coordinator keeps of one (letters, digits, _ . -; at most 64). */
export function checkGroupName(flag: string, name: string): void {
  if (!/^[\w.-]{1,64}$/.test(name)) throw new UsageError(`${flag} ${JSON.stringify(name)}: a group name is 1 to 64 letters, digits, '_', '.' or '-'`);
}

/** HOST:PORT as a gRPC target (an IPv6 host in brackets). */
export function targetOf(a: { host: string; port: number }): string {
  const host = a.host.includes(':') && !a.host.startsWith('[') ? `[${a.host}]` : a.host;
  return `${host}:${a.port}`;
}

/** Connects to the coordinator and serves it until the run ends; returns the exit status, throws when the run could not be served. */
export async function serveCoordinator(o: WorkerCommandOptions): Promise<number> {
  const token = await runToken(o.tokenFile);
  const stop = new AbortController();
  let stoppedBy: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    stoppedBy ??= signal;
    stop.abort();
  };
  const metrics = o.metrics ? await serveWorkerMetrics({ listen: o.metrics, device: o.device }) : undefined;
  if (metrics) process.stderr.write(`sam-lora worker: serving metrics at ${metrics.url}\n`);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await runRemoteWorker({
      address: targetOf(o.coordinator),
      ...(o.group !== undefined ? { group: o.group } : {}),
      ...(o.aggregator ? { aggregator: targetOf(o.aggregator) } : {}),
      runtime: { device: o.device, ...(o.threads > 0 ? { intraOpThreads: o.threads } : {}) },
      ...(token ? { token } : {}),
      ...workerLogging(o.log),
      signal: stop.signal,
      ...(o.connectAttempts ? { maxAttempts: o.connectAttempts } : {}),
      ...(o.giveUpAfterSeconds !== undefined ? { giveUpAfterMs: o.giveUpAfterSeconds * 1000 } : {}),
      ...(o.security ? { security: o.security } : {}),
      ...(metrics ? { observer: metrics.observer } : {}),
    });
    // Left because of a signal (a drained node, a deleted pod): not the end of the run.
    return stoppedBy ? signalExitStatus(stoppedBy) : 0;
  } catch (err) {
    throw asUpstreamFailure(err);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await metrics?.close();
  }
}

async function runWorkerCommand(parsed: ParsedArgs<typeof WORKER_OPTIONS>): Promise<number> {
  const opts = workerOptions(parsed, process.env);
  try {
    if (opts.device.kind === 'cuda') assertCudaAvailable();
    return await serveCoordinator(opts);
  } catch (err) {
    if (err instanceof CudaUnavailableError && opts.device.kind === 'cuda') throw new Error(`--gpu ${opts.device.deviceId}: ${err.message}`, { cause: err });
    throw err;
  }
}

export const workerCommand = defineCommand({
  name: 'worker',
  summary: 'join a distributed run as a worker on one GPU (--gpu N) or the CPU',
  usage: USAGE,
  options: WORKER_OPTIONS,
  run: runWorkerCommand,
});
