// A worker process's side of a distributed run: Join the coordinator, build the model the run's
// config names in a compute thread, open the Session stream, and serve weights, steps and
// evaluations until the coordinator says the run is complete. Heartbeats keep flowing during long
// steps (the step runs in the thread). Any other end of a session (an eviction, a coordinator that
// stops or dies, a lost connection) is followed by a new Join, after the eviction's cooldown or with
// backoff; only a refusal is final. A worker of a host group whose aggregator failed serves the
// coordinator directly, and returns to the aggregator once it serves again.

import * as grpc from '@grpc/grpc-js';
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { RuntimeOptions } from '../shared/graph/runtime.js';
import { clientFlowControlOptions } from '../shared/wire/flow_control.js';
import { channelLimitOptions, negotiateMaxMessageBytes, tensorChunkBytes } from '../shared/wire/limits.js';
import type * as pb from '../shared/wire/messages.js';
import { PROTOCOL_VERSION, loadWireProtos, type CoordinatorClient } from '../shared/wire/proto_loader.js';
import { sampleFromWire } from '../shared/wire/sample_codec.js';
import { type ClientSecurity, type SharedToken, clientSecurity } from '../shared/wire/security.js';
import { writeAll } from '../shared/wire/stream_io.js';
import { packedTensorMessages } from '../shared/wire/packed_tensors.js';
import type { PreEncodedMessage } from '../shared/wire/pre_encoded.js';
import { elementBytes, fromWireEncoding, tensorInfos } from '../shared/wire/tensor_codec.js';
import { TensorReceiver } from '../shared/wire/tensor_receiver.js';
import { SOFTWARE_VERSION } from '../shared/contract/software_version.js';
import type { SampleTask } from '../shared/contract/worker_endpoint.js';
import { ModelCompute } from './model_compute.js';
import type { ComputeProvider, PreparedCompute, SessionCompute } from './session_compute.js';
import type { WorkerObserver } from './worker_observer.js';
import { errorMessage } from '../shared/errors/error_message.js';
import { wireText } from '../shared/wire/wire_text.js';
import { coordinatorServes } from './coordinator_probe.js';
import { BACKOFF_CAP_MS, backoffDelay } from './reconnect_backoff.js';

export interface RemoteWorkerOptions {
  /** HOST:PORT of the coordinator (an aggregator's upstream). */
  address: string;
  runtime: RuntimeOptions;
  security?: ClientSecurity;
  token?: SharedToken;
  log?: (line: string, level?: WorkerLogLevel) => void;
  /** Told the run and the worker id once the coordinator admitted this worker (the logs' bindings). */
  onJoined?: (joined: { runId: string; workerId: string }) => void;
  signal?: AbortSignal;
  /** Give up after this many failed connection attempts in a row (default: never). */
  maxAttempts?: number;
  /** Give up once no coordinator could be reached for this long, in ms (default: never). */
  giveUpAfterMs?: number;
  /** Told of sessions, tasks and bytes (the worker's /metrics). */
  observer?: WorkerObserver;
  /** Host group (Join's Capabilities.group; default: the coordinator uses the hostname). */
  group?: string;
  /** HOST:PORT of the host group's aggregator: served through it until it fails, then `address` directly. */
  aggregator?: string;
  /**
   * How long the aggregator may stay unreachable while the coordinator serves before the worker
   * goes direct (default AGGREGATOR_GRACE_MS: the aggregator's longest reconnect backoff and a join).
   */
  aggregatorGraceMs?: number;
  /**
   * While direct, the shortest time between two checks of whether the aggregator serves again
   * (default AGGREGATOR_PROBE_MS; doubled by every demotion after the first, up to AGGREGATOR_PROBE_CAP_MS).
   */
  aggregatorProbeMs?: number;
  /** What the sessions compute with (default: the run's model in a compute thread). */
  compute?: ComputeProvider;
}

export type WorkerLogLevel = 'debug' | 'info' | 'warn' | 'error';

/** No coordinator could be reached for the allowed time (giveUpAfterMs). */
export class CoordinatorUnreachableError extends Error {
  override readonly name = 'CoordinatorUnreachableError';
}

/** The coordinator refused this worker (wrong version, model, token): retrying cannot help. */
export class WorkerRefusedError extends Error {
  override readonly name = 'WorkerRefusedError';
}

const JOIN_TIMEOUT_MS = 15_000;

/**
 * Failed connections in a row to the aggregator, while the coordinator serves, before the worker
 * goes to the coordinator directly; and at least AGGREGATOR_GRACE_MS of them: an aggregator joins
 * the coordinator (and opens its port) within its own reconnect backoff after the coordinator came up.
 */
const AGGREGATOR_ATTEMPTS = 3;
export const AGGREGATOR_GRACE_MS = BACKOFF_CAP_MS + 5000;

/**
 * A demoted worker asks its aggregator whether it serves again at most this often; each further
 * demotion doubles the wait (an aggregator that keeps failing cannot make its workers flap), up to
 * AGGREGATOR_PROBE_CAP_MS.
 */
export const AGGREGATOR_PROBE_MS = 10_000;
export const AGGREGATOR_PROBE_CAP_MS = 5 * 60_000;

function unary<T>(start: (cb: grpc.requestCallback<T>) => unknown): Promise<T> {
  return new Promise<T>((resolve, reject) => start((err, v) => (err ? reject(err) : v === undefined ? reject(new Error('no reply')) : resolve(v))));
}

const isRefusal = (err: unknown): boolean =>
  typeof err === 'object' && err !== null && 'code' in err && [grpc.status.UNAUTHENTICATED, grpc.status.FAILED_PRECONDITION, grpc.status.PERMISSION_DENIED].includes((err as { code: number }).code);

/** How a session ended: the run is complete, the worker was told to stop, or it must join again. */
type SessionEnd = { kind: 'complete' } | { kind: 'aborted' } | { kind: 'lost' } | { kind: 'evicted'; cooldownMs: number } | { kind: 'coordinator_stopping' } | { kind: 'back_to_aggregator' };

/** While a demoted worker serves the coordinator directly: how it watches for its aggregator's return. */
interface AggregatorWatch {
  address: string;
  /** Whether the aggregator serves (a health Check). */
  serves: () => Promise<boolean>;
  /** Shortest time between two checks. */
  everyMs: number;
}

/** How long a worker that left for its aggregator waits for the coordinator to close the session. */
const LEAVE_TIMEOUT_MS = 5000;

/** Most samples a coordinator may send ahead of one assignment (their bytes are held until it comes). */
const MAX_STAGED_SAMPLES = 4096;

/** Longest eviction cooldown a coordinator may impose (a hostile value must not park the worker). */
const MAX_COOLDOWN_MS = 60_000;

/** Serves the run until it is complete or aborted (resolves) or the worker is refused (rejects with WorkerRefusedError). */
export async function runRemoteWorker(o: RemoteWorkerOptions): Promise<void> {
  const log = o.log ?? (() => undefined);
  // The model and ORT sessions (or an aggregator's group), kept from one session to the next while
  // the run's model is the same (an eviction, a coordinator restart); they go when the worker leaves.
  const compute = o.compute ?? new ModelCompute(o.runtime);
  try {
    await serveUntilDone(o, log, compute);
  } finally {
    await compute.close().catch(() => undefined);
  }
}

async function serveUntilDone(o: RemoteWorkerOptions, log: (l: string, level?: WorkerLogLevel) => void, compute: ComputeProvider): Promise<void> {
  let attempts = 0;
  // When the coordinator stopped being reachable (reset by every session it admitted us to).
  let unreachableSince: number | undefined;
  // Through the host group's aggregator until it fails once; then straight to the coordinator
  // (demoted; its samples went back to the coordinator's queue) until the aggregator serves again.
  let viaAggregator = o.aggregator !== undefined;
  let demotions = 0;
  const probeOptions = { ...(o.security ? { security: o.security } : {}), ...(o.token ? { token: o.token } : {}) };
  // Failed connections to the aggregator while the coordinator served, and since when.
  let aggregatorFailures = 0;
  let aggregatorDownSince: number | undefined;
  const sleep = (ms: number): Promise<void> =>
    new Promise<void>((resolve) => {
      const onAbort = (): void => (clearTimeout(t), resolve());
      const t = setTimeout(() => (o.signal?.removeEventListener('abort', onAbort), resolve()), ms);
      o.signal?.addEventListener('abort', onAbort, { once: true });
    });
  const demote = (why: string): void => {
    viaAggregator = false;
    attempts = 0;
    unreachableSince = undefined;
    demotions++;
    log(`${why}; connecting to the coordinator ${o.address} directly until the aggregator serves again`, 'warn');
  };
  // Asked by the direct sessions of a demoted worker.
  const watchAggregator = (): AggregatorWatch | undefined =>
    o.aggregator === undefined || viaAggregator
      ? undefined
      : {
          address: o.aggregator,
          serves: () => coordinatorServes(o.aggregator!, probeOptions),
          everyMs: Math.min(AGGREGATOR_PROBE_CAP_MS, (o.aggregatorProbeMs ?? AGGREGATOR_PROBE_MS) * 2 ** Math.min(20, Math.max(0, demotions - 1))),
        };
  for (;;) {
    if (o.signal?.aborted) return;
    const attemptStarted = Date.now();
    const address = viaAggregator ? o.aggregator! : o.address;
    let wait: number;
    try {
      const end = await oneConnection(o, address, log, compute, watchAggregator());
      if (end.kind === 'complete' || end.kind === 'aborted') return;
      aggregatorFailures = 0;
      aggregatorDownSince = undefined;
      // The coordinator was there: a new series of attempts begins.
      attempts = 0;
      unreachableSince = undefined;
      if (end.kind === 'back_to_aggregator') {
        // From here the aggregator is judged as at the start: failing to reach it demotes again.
        viaAggregator = true;
        log(`left the coordinator ${o.address}: connecting through the aggregator ${o.aggregator!} again`);
        continue;
      }
      if (viaAggregator && (end.kind === 'lost' || end.kind === 'coordinator_stopping')) {
        demote(end.kind === 'lost' ? `lost the aggregator ${address}` : `the aggregator ${address} is stopping`);
        continue;
      }
      wait = end.kind === 'evicted' ? Math.min(end.cooldownMs, MAX_COOLDOWN_MS) + backoffDelay(0) : backoffDelay(0);
      log(`${end.kind === 'evicted' ? 'evicted' : end.kind === 'coordinator_stopping' ? 'the coordinator is stopping' : 'lost the coordinator'}; joining again in ${(wait / 1000).toFixed(1)} s`, 'warn');
    } catch (err) {
      if (o.signal?.aborted) return;
      if (err instanceof WorkerRefusedError) throw err;
      if (isRefusal(err)) throw new WorkerRefusedError(wireText((err as grpc.ServiceError).details || String(err)));
      let target = address;
      if (viaAggregator) {
        if (await coordinatorServes(o.address, probeOptions)) {
          if (o.signal?.aborted) return;
          // The coordinator serves, so the aggregator should join it and listen soon: a few tries
          // over at least the grace (not counted against --connect-attempts); then it counts as dead.
          attempts = 0;
          unreachableSince = undefined;
          aggregatorDownSince ??= attemptStarted;
          const graceLeft = aggregatorDownSince + (o.aggregatorGraceMs ?? AGGREGATOR_GRACE_MS) - Date.now();
          if (++aggregatorFailures >= AGGREGATOR_ATTEMPTS && graceLeft <= 0) {
            demote(`the aggregator ${address} failed ${aggregatorFailures} times while the coordinator served (${errorMessage(err)})`);
            continue;
          }
          wait = Math.min(backoffDelay(aggregatorFailures), Math.max(0, graceLeft));
          log(`connection to the aggregator ${address} failed (${errorMessage(err)}); retrying in ${(wait / 1000).toFixed(1)} s`, 'warn');
          await sleep(wait);
          continue;
        }
        // The coordinator does not serve either (it prepares the run or restarts): the aggregator
        // cannot be up before it. Wait as for the coordinator (--connect-attempts, --give-up-after).
        aggregatorFailures = 0;
        aggregatorDownSince = undefined;
        target = `the aggregator ${address} (and the coordinator ${o.address})`;
      }
      attempts++;
      if (o.maxAttempts !== undefined && attempts >= o.maxAttempts) throw err;
      unreachableSince ??= attemptStarted;
      if (o.giveUpAfterMs !== undefined && Date.now() - unreachableSince >= o.giveUpAfterMs) {
        throw new CoordinatorUnreachableError(
          `no coordinator at ${o.address} for ${((Date.now() - unreachableSince) / 1000).toFixed(0)} s (${attempts} attempts; last: ${errorMessage(err)}); giving up`,
        );
      }
      wait = backoffDelay(attempts);
      // The last attempt comes when --give-up-after runs out, not a whole backoff later.
      if (o.giveUpAfterMs !== undefined) wait = Math.min(wait, Math.max(0, unreachableSince + o.giveUpAfterMs - Date.now()));
      log(`connection to ${target} failed (${errorMessage(err)}); retrying in ${(wait / 1000).toFixed(1)} s`, 'warn');
    }
    await sleep(wait);
  }
}

/** One Join + Session with `address`, and how it ended. What the compute built for it stays with the provider. */
async function oneConnection(
  o: RemoteWorkerOptions,
  address: string,
  log: (l: string, level?: WorkerLogLevel) => void,
  provider: ComputeProvider,
  aggregator: AggregatorWatch | undefined,
): Promise<SessionEnd> {
  const protos = loadWireProtos();
  const sec = await clientSecurity(o.security ?? { mode: 'insecure' }, o.token);
  const client: CoordinatorClient = new protos.coordinator.Client(address, sec.credentials, { ...channelLimitOptions(), ...clientFlowControlOptions(), ...sec.options });
  try {
    const join = (): Promise<pb.JoinReply> => unary<pb.JoinReply>((cb) =>
      client.Join(
        {
          protocol_version: PROTOCOL_VERSION,
          software_version: SOFTWARE_VERSION,
          capabilities: {
            device: provider.device,
            gpu_index: o.runtime.device?.kind === 'cuda' ? o.runtime.device.deviceId : 0,
            threads: o.runtime.intraOpThreads ?? 0,
            hostname: hostname(),
            cuda_available: false,
            group: o.group ?? '',
          },
        },
        { deadline: new Date(Date.now() + JOIN_TIMEOUT_MS) },
        cb,
      ),
    );
    let reply: pb.JoinReply;
    let prepared: PreparedCompute;
    do {
      if (o.signal?.aborted) return { kind: 'aborted' };
      reply = await join();
      o.onJoined?.({ runId: reply.run_id, workerId: reply.worker_id });
      prepared = await provider.prepare(reply, address, log, o.signal);
    } while (prepared.joinAgain);
    return await serveSession(client, prepared, reply, log, o.signal, o.observer, aggregator);
  } finally {
    client.close();
  }
}

async function serveSession(
  client: CoordinatorClient,
  prepared: PreparedCompute,
  reply: pb.JoinReply,
  log: (l: string, level?: WorkerLogLevel) => void,
  signal?: AbortSignal,
  observer?: WorkerObserver,
  aggregator?: AggregatorWatch,
): Promise<SessionEnd> {
  const call = client.Session();
  const encoding = fromWireEncoding(reply.tensor_encoding) ?? 'fp32';
  const chunkBytes = tensorChunkBytes(negotiateMaxMessageBytes(reply.max_message_bytes));
  let weights: TensorReceiver | undefined;
  let weightsVersion = -1;
  let welcomed = false;
  let compute!: SessionCompute;
  let sequence = 0;
  const interval = Math.max(100, reply.heartbeat_interval_ms || 2000);
  // When the coordinator was last heard from (performance.now(): immune to wall-clock steps).
  let lastHeard = performance.now();
  let lastTick = lastHeard;
  const timeoutMs = reply.coordinator_timeout_ms;
  const heartbeat = setInterval(() => {
    call.write({ heartbeat: { unix_millis: Date.now(), sequence: ++sequence } });
    const now = performance.now();
    // After a late tick (this process was frozen or busy), unread messages may be waiting: judge next time.
    const lagging = now - lastTick > 1.5 * interval;
    lastTick = now;
    if (timeoutMs > 0 && !lagging && now - lastHeard > timeoutMs) {
      log(`nothing from the coordinator for ${((now - lastHeard) / 1000).toFixed(1)} s; dropping the session`, 'warn');
      lastHeard = now;
      call.cancel();
    }
  }, interval);
  // Messages are handled one at a time, in order.
  let queue: Promise<void> = Promise.resolve();
  // Sample files sent ahead of the next assignment (one per message), by id.
  const staged = new Map<string, pb.SampleBytes>();
  const toTasks = (samples: pb.SampleTask[]): SampleTask[] => {
    const tasks = samples.map((s) => {
      const bytes = s.bytes ?? staged.get(s.id);
      if (!bytes && reply.samples_as_bytes) throw new Error(`sample ${JSON.stringify(s.id.slice(0, 200))}: assigned without its files`);
      return { id: s.id, ...(bytes ? { bytes: sampleFromWire(bytes) } : {}) };
    });
    staged.clear();
    return tasks;
  };
  // Aborted when the session ends: a write waiting for a stream that will never drain gives up.
  const closed = new AbortController();
  const send = (msgs: (pb.WorkerMessageOut | PreEncodedMessage)[]): Promise<void> => writeAll(call, msgs, closed.signal);
  const fail = async (code: string, err: unknown, step = 0): Promise<void> => {
    await send([{ error: { code, message: errorMessage(err), fatal: false, step } }]);
  };

  // A demoted worker's way back to its aggregator: while this session lasts, the aggregator is asked
  // every aggregator.everyMs whether it serves; once it does, the session ends after the message
  // being handled (a step's result is sent first) by closing the stream, which the coordinator takes
  // as the worker leaving: it evicts it and re-queues whatever it assigned it meanwhile.
  let leaving = false;
  let probeTimer: NodeJS.Timeout | undefined;
  let leaveTimer: NodeJS.Timeout | undefined;
  const watchAggregator = (watch: AggregatorWatch): void => {
    probeTimer = setTimeout(() => {
      // A probe that throws (say, TLS files unreadable) counts as "not serving".
      void watch.serves().catch(() => false).then((serves) => {
        if (closed.signal.aborted || leaving) return;
        if (!serves) return watchAggregator(watch);
        leaving = true;
        log(`the aggregator ${watch.address} serves again: leaving the coordinator after the message in hand`);
        queue = queue.then(leave).catch(() => call.cancel());
      });
    }, watch.everyMs);
  };
  const leave = (): void => {
    // A Stop handled meanwhile (the run is complete) decides instead.
    if (closed.signal.aborted || stopped) return;
    stopped = { kind: 'back_to_aggregator' };
    // Nothing more is written: the coordinator answers the half-close by ending the call.
    clearInterval(heartbeat);
    call.end();
    leaveTimer = setTimeout(() => call.cancel(), LEAVE_TIMEOUT_MS);
  };

  const handle = async (m: pb.CoordinatorMessage): Promise<void> => {
    // Work assigned after this worker decided to leave is the coordinator's to re-queue.
    if (leaving && !(m.kind === 'stop' && m.stop.kind === 'STOP_RUN_COMPLETE')) return;
    switch (m.kind) {
      case 'welcome':
        welcomed = true;
        compute = await prepared.start();
        observer?.connected?.(reply.worker_id);
        if (aggregator) watchAggregator(aggregator);
        if (prepared.groupSize) {
          // Written at once like a heartbeat (it may come between a header and its data).
          const source = prepared.groupSize;
          let told = -1;
          const tell = (): void => {
            if (source.size === told || closed.signal.aborted) return;
            told = source.size;
            call.write({ group_size: { workers: told } });
          };
          unwatch = source.watch(tell);
          tell();
        }
        return;
      case 'weights':
        weights = new TensorReceiver(m.weights.tensors);
        weightsVersion = m.weights.version;
        if (m.weights.tensors.length === 0) await compute.setWeights(weightsVersion, new Map());
        return;
      case 'tensor':
      case 'packed': {
        if (!weights) throw new Error('tensor data outside a weights message');
        const before = weights.bytes;
        weights.push(m);
        observer?.bytes?.('received', weights.bytes - before);
        // The header listed every tensor: once all arrived, install them.
        if (weights.complete) {
          const params = new Map([...weights.finish()].map(([k, t]) => [k, t.data]));
          weights = undefined;
          // Decoded for this version only: hand the arrays to the compute thread as they are.
          await compute.adoptWeights(weightsVersion, params, weightShapes);
        }
        return;
      }
      case 'sample':
        if (staged.size >= MAX_STAGED_SAMPLES) throw new Error(`more than ${MAX_STAGED_SAMPLES} samples sent ahead of one assignment`);
        staged.set(m.sample.id, m.sample);
        return;
      case 'step': {
        const s = m.step;
        try {
          // 0 is proto3's unset: an fp32 run. The compute thread checks the scale against its graph.
          const lossScale = s.loss_scale === 0 ? {} : { lossScale: s.loss_scale };
          const r = await compute.trainStep({ epoch: s.epoch, step: s.step, weightsVersion: s.weights_version, samples: toTasks(s.samples), ...lossScale });
          // Shapes as the coordinator declared them in its weights header; an overflow sends none.
          const grads = new Map(r.overflow ? [] : [...r.grads].map(([k, v]) => [k, { shape: weightShapes.get(k) ?? [v.length], data: v }]));
          const header: pb.StepResultHeader = {
            step: r.step,
            weight_sum: r.weightSum,
            loss_sum: r.lossSum,
            samples: r.samples.map((x) => ({ id: x.id, loss: x.loss, weight: x.weight })),
            failed: r.failed,
            compute_seconds: r.computeSeconds,
            grads: tensorInfos(grads),
            weights_hash: r.weightsHash ?? '',
            peak_rss_bytes: r.peakRssBytes ?? 0,
            overflow: r.overflow === true,
            ...(r.workers !== undefined && r.workers > 1 ? { workers: r.workers } : {}),
          };
          const chunks = [...packedTensorMessages(grads, { encoding, maxChunkBytes: chunkBytes, envelope: 'worker_message' })];
          await send([{ step_result: header }, ...chunks]);
          observer?.trainStep?.({ samples: r.samples.length, computeSeconds: r.computeSeconds });
          // The worker's own account of what it trained (the chaos test checks it against the epochs).
          log(`trained step ${r.step} (epoch ${s.epoch + 1})${r.overflow ? ` (fp16 overflow at loss scale ${s.loss_scale})` : ''}: ${r.samples.map((x) => x.id).join(' ')}`, 'debug');
          observer?.bytes?.('sent', [...grads.values()].reduce((a, g) => a + g.data.length * elementBytes(encoding), 0));
        } catch (err) {
          await fail('STEP_FAILED', err, s.step);
        }
        return;
      }
      case 'eval': {
        const e = m.eval;
        try {
          const t0 = performance.now();
          const r = await compute.evaluate({ weightsVersion: e.weights_version, samples: toTasks(e.samples) }, e.split === 'SPLIT_TRAIN' ? 'train' : 'test');
          observer?.evaluated?.({ samples: r.scores.length, seconds: (performance.now() - t0) / 1000 });
          await send([{ eval_result: { request_id: e.request_id, scores: r.scores, failed: r.failed } }]);
        } catch (err) {
          await fail('EVAL_FAILED', err);
        }
        return;
      }
      case 'stop':
        log(`the coordinator ended the session: ${wireText(m.stop.reason)}`);
        stopped =
          m.stop.kind === 'STOP_RUN_COMPLETE'
            ? { kind: 'complete' }
            : m.stop.kind === 'STOP_EVICTED'
              ? { kind: 'evicted', cooldownMs: Math.max(0, Number(m.stop.reconnect_after_ms) || 0) }
              : { kind: 'coordinator_stopping' };
        call.end();
        return;
      default:
        return;
    }
  };
  // The coordinator's trainable shapes, learnt from the weights headers.
  const weightShapes = new Map<string, number[]>();
  // What the coordinator's Stop said, once one came.
  let stopped: SessionEnd | undefined;
  const ended = (): SessionEnd => (signal?.aborted ? { kind: 'aborted' } : (stopped ?? { kind: 'lost' }));

  // Stops telling the coordinator the group's size (an aggregator), once the session ends.
  let unwatch = (): void => undefined;
  call.write({ hello: { worker_id: reply.worker_id, loaded: prepared.loaded } });
  return new Promise<SessionEnd>((resolve, reject) => {
    const cancel = (): void => call.cancel();
    const finish = (outcome: SessionEnd | Error): void => {
      clearInterval(heartbeat);
      clearTimeout(probeTimer);
      clearTimeout(leaveTimer);
      // The signal outlives the session (a worker has many): its listener goes with the session.
      signal?.removeEventListener('abort', cancel);
      unwatch();
      closed.abort(new Error('the session ended'));
      observer?.disconnected?.();
      if (outcome instanceof Error) reject(outcome);
      else resolve(outcome);
    };
    signal?.addEventListener('abort', cancel, { once: true });
    call.on('data', (m: pb.CoordinatorMessage) => {
      lastHeard = performance.now();
      if (m.kind === 'heartbeat') return;
      if (m.kind === 'refusal') {
        finish(new WorkerRefusedError(`the coordinator refused this worker: ${wireText(m.refusal.reason)}`));
        call.cancel();
        return;
      }
      if (m.kind === 'weights') for (const t of m.weights.tensors) weightShapes.set(t.name, t.shape);
      queue = queue.then(() => handle(m)).catch((err: unknown) => {
        log(`session error: ${errorMessage(err)}`, 'error');
        call.cancel();
      });
    });
    call.on('end', () => void queue.then(() => finish(ended())));
    call.on('error', (err: grpc.ServiceError) => {
      if (stopped || signal?.aborted) return finish(ended());
      if (isRefusal(err)) return finish(new WorkerRefusedError(wireText(err.details || err.message)));
      if (!welcomed) return finish(err);
      finish({ kind: 'lost' });
    });
  });
}
