// A distributed run: the coordinator's gRPC server, a pool of remote workers that join and leave,
// and the same training loop as a local run. Workers receive the run's config and each sample's
// encoded bytes, so they need no shared filesystem (only the checkpoint, when the run has one).

import { configToYaml } from '../shared/config/index.js';
import type { Dataset, SampleBytes, SampleRef } from '../shared/data/dataset.js';
import { modelFingerprint } from '../shared/contract/fingerprint.js';
import type { ServerSecurity, SharedToken } from '../shared/wire/security.js';
import type { TensorEncoding } from '../shared/wire/tensor_codec.js';
import { CoordinatorServer } from './grpc/coordinator_server.js';
import { type LocalRunOptions, prepareRun, trainerFor } from './prepare_run.js';
import { DEFAULT_MAX_MESSAGE_BYTES } from '../shared/wire/limits.js';
import { RunEvents } from './run_events.js';
import { checkSampleSizes } from './sample_size_check.js';
import { runNotes } from './run_notes.js';
import type { Summary } from './trainer.js';
import { WorkerPool } from './worker_pool.js';
import { DEFAULT_FIRST_SHARE_MS, type StepDeadlinePolicy, checkDeadlinePolicy } from './step_deadline.js';

export interface DistributedRunOptions extends LocalRunOptions {
  /** HOST:PORT to serve on (port 0: any free port). */
  listen: string;
  minWorkers: number;
  token?: SharedToken;
  security?: ServerSecurity;
  encoding?: TensorEncoding;
  /**
   * A fixed deadline of every share, evaluation and weights sync on one worker (--step-deadline).
   * Without it, a training share's deadline follows the worker's observed pace (step_deadline.ts),
   * and evaluations and syncs get 10 minutes.
   */
  deadlineMs?: number;
  /** The derived share deadline's floor, factor and first-share allowance (defaults in step_deadline.ts); ignored with deadlineMs. */
  stepDeadline?: StepDeadlinePolicy;
  /** Heartbeat interval both ways (default 2 s); a worker silent for 5 of them is evicted. */
  heartbeatMs?: number;
  /** How long an evicted worker waits before it joins again (default 2 s). */
  evictionCooldownMs?: number;
  /** After completion, how long to answer workers that may be between sessions (default 12 s; see CoordinatorServerOptions). */
  completionGraceMs?: number;
  /** The wire's message limit (default 16 MiB); every sample must fit one message. */
  maxMessageBytes?: number;
  /** A worker drops its session after this long without a message from the coordinator (default max(30 s, 10 heartbeats)). */
  coordinatorTimeoutMs?: number;
  /** Called once the server listens, with its address. */
  onListening?: (address: string, server: CoordinatorServer) => void;
}

function byteSource(datasets: { train: Dataset; test?: Dataset }): (id: string, split: 'train' | 'test') => Promise<SampleBytes> {
  const refs = new Map<string, { ds: Dataset; ref: SampleRef }>();
  for (const [split, ds] of Object.entries(datasets)) for (const ref of ds?.samples ?? []) refs.set(`${split}:${ref.id}`, { ds: ds!, ref });
  return async (id, split) => {
    const hit = refs.get(`${split}:${id}`);
    if (!hit) throw new Error(`no ${split} sample ${id}`);
    return hit.ds.readBytes(hit.ref);
  };
}

export async function runDistributed(o: DistributedRunOptions): Promise<Summary> {
  const say = o.progress ?? (() => undefined);
  const p = await prepareRun(o);
  await checkSampleSizes({ train: p.train, ...(p.test ? { test: p.test } : {}) }, o.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES);
  // The server's health follows the run's progress, which it reads from the run's events.
  const events = o.events ?? new RunEvents();
  const pool = WorkerPool.forwarding(o.minWorkers, events, (e) => {
    if (e.kind === 'joined') say(`worker ${e.id} joined`);
    else if (e.kind === 'evicted') say(`worker ${e.id} left: ${e.reason}`);
    else if (e.kind === 'resized') say(`worker ${e.id} carries ${e.workers} worker(s) of its host group`);
    else say(`waiting for workers: ${e.live} connected, ${e.needed} needed`);
  });
  const server = await CoordinatorServer.start({
    listen: o.listen,
    pool,
    runId: p.runId,
    configYaml: configToYaml(p.config),
    fingerprint: await modelFingerprint(p.config),
    trainable: p.model.shapes,
    ...(o.token ? { token: o.token } : {}),
    ...(o.security ? { security: o.security } : {}),
    ...(o.encoding ? { encoding: o.encoding } : {}),
    ...(o.deadlineMs ? { deadlineMs: o.deadlineMs } : {}),
    ...(o.heartbeatMs ? { heartbeatMs: o.heartbeatMs } : {}),
    ...(o.evictionCooldownMs !== undefined ? { evictionCooldownMs: o.evictionCooldownMs } : {}),
    ...(o.coordinatorTimeoutMs ? { coordinatorTimeoutMs: o.coordinatorTimeoutMs } : {}),
    ...(o.maxMessageBytes ? { maxMessageBytes: o.maxMessageBytes } : {}),
    ...(o.completionGraceMs !== undefined ? { completionGraceMs: o.completionGraceMs } : {}),
    resumed: p.resume,
    sampleBytes: byteSource({ train: p.train, ...(p.test ? { test: p.test } : {}) }),
    log: say,
    events,
  });
  runNotes(o)(`coordinator listening on ${server.address} (run ${p.runId})`);
  o.onListening?.(server.address, server);
  let complete = false;
  try {
    const stepDeadline: StepDeadlinePolicy = o.deadlineMs ? { fixedMs: o.deadlineMs } : { firstShareMs: DEFAULT_FIRST_SHARE_MS, ...o.stepDeadline };
    checkDeadlinePolicy(stepDeadline);
    const summary = await trainerFor(p, pool, { ...o, events }, stepDeadline).run();
    complete = summary.status === 'completed';
    return summary;
  } finally {
    // Workers exit only when the run is complete; after a stop or a failure they wait to rejoin.
    await server.stop(complete);
  }
}
