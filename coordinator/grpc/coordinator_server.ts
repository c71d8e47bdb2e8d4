// The coordinator's gRPC server (samlora.v1.Coordinator): Join hands a worker the run (config,
// fingerprint, transport settings); Session is the worker's stream, which becomes a RemoteWorker
// in the pool once its hello matches the fingerprint. Every call needs the token when one is set
// (health Check excepted, for probes); refused workers are told what differs.

import * as grpc from '@grpc/grpc-js';
import { performance } from 'node:perf_hooks';
import type { SampleBytes } from '../../shared/data/dataset.js';
import { type Fingerprint, fingerprintDifferences } from '../../shared/contract/fingerprint.js';
import { HealthService, OVERALL, UNAUTHENTICATED_HEALTH_METHODS } from '../../shared/wire/health.js';
import { DEFAULT_MAX_MESSAGE_BYTES, serverLimitOptions, tensorChunkBytes } from '../../shared/wire/limits.js';
import type * as pb from '../../shared/wire/messages.js';
import { COORDINATOR_SERVICE, PROTOCOL_VERSION, loadWireProtos, methodPath } from '../../shared/wire/proto_loader.js';
import { SOFTWARE_VERSION } from '../../shared/contract/software_version.js';
import { type ServerSecurity, type SharedToken, serverCredentials, tokenAuthInterceptor } from '../../shared/wire/security.js';
import { type TensorEncoding, toWireEncoding } from '../../shared/wire/tensor_codec.js';
import { widenServerWindows } from '../../shared/wire/flow_control.js';
import { wireText } from '../../shared/wire/wire_text.js';
import { oversizeInterceptor } from '../../shared/wire/oversize_watch.js';
import type { RejectionCause, RunEvents } from '../run_events.js';
import type { WorkerPlacement } from '../../shared/contract/worker_endpoint.js';
import type { WorkerPool } from '../worker_pool.js';
import { ProgressWatch } from '../progress_watch.js';
import { RemoteWorker, type SessionStream } from './remote_worker.js';
import { WeightsBroadcast } from './weights_broadcast.js';


export interface CoordinatorServerOptions {
  /** HOST:PORT (port 0: any free port). */
  listen: string;
  pool: WorkerPool;
  runId: string;
  configYaml: string;
  fingerprint: Fingerprint;
  trainable: ReadonlyMap<string, readonly number[]>;
  security?: ServerSecurity;
  token?: SharedToken;
  maxMessageBytes?: number;
  encoding?: TensorEncoding;
  /** Ship sample bytes with tasks (default); undefined: workers read their own dataset copy. */
  sampleBytes?: (id: string, split: 'train' | 'test') => Promise<SampleBytes>;
  /** Deadline of one step or evaluation on one worker (default 10 minutes). */
  deadlineMs?: number;
  heartbeatMs?: number;
  /** How long an evicted worker waits before it joins again (default 2 s). */
  evictionCooldownMs?: number;
  /** A worker drops its session after this long without a message from here (default max(30 s, 10 heartbeats)). */
  coordinatorTimeoutMs?: number;
  /**
   * After the run completes, keep answering for this long when a worker may be between sessions (a
   * session was lost, or this coordinator resumed a run): a worker coming back from its backoff (at
   * most 10 s) learns that the run is complete and exits 0 instead of waiting for a coordinator
   * that is gone. Default 12 s; 0: stop at once.
   */
  completionGraceMs?: number;
  /** This coordinator resumed a run: the previous one's workers may still be reconnecting. */
  resumed?: boolean;
  /** Health says NOT_SERVING after this long without a step, an evaluation or a checkpoint (default 2 deadlines + 1 minute; needs `events`). */
  stallLimitMs?: number;
  log?: (line: string) => void;
  /** Rejected messages and tensor bytes are reported here (metrics). */
  events?: RunEvents;
}

export class CoordinatorServer {
  private readonly server: grpc.Server;
  private readonly health = new HealthService();
  private joined = 0;
  /** Worker ids handed out by Join, with where each worker said it runs. */
  private readonly issued = new Map<string, WorkerPlacement>();
  private sweep?: NodeJS.Timeout;
  /** What the health check last said about progress. */
  private progressing = true;
  /** Sessions that ended without this coordinator ending them (lost, evicted). */
  private sessionsLost = 0;
  /** Set once stop() began: what a worker that says hello from then on is told. */
  private stopping?: { reason: string; kind: pb.StopKind };
  private readonly broadcast: WeightsBroadcast;
  private readonly oversize = new Map<string, string>();
  /** Messages refused as malformed, hostile or unauthenticated sessions. */
  rejectedMessages = 0;
  address = '';

  private constructor(private readonly o: CoordinatorServerOptions) {
    const max = o.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    // Messages grpc-js refused as too large, by peer address, until that peer's session ends.
    const watch = oversizeInterceptor(methodPath(COORDINATOR_SERVICE, 'Session'), (peer, details) => {
      // Bounded: an entry lives until the session's cancel, which follows at once.
      if (this.oversize.size >= 1024) this.oversize.delete(this.oversize.keys().next().value!);
      this.oversize.set(peer, details);
    });
    this.server = new grpc.Server({
      ...serverLimitOptions(max),
      ...(o.token
        ? {
            interceptors: [
              watch,
              tokenAuthInterceptor({
                token: o.token,
                exemptMethods: UNAUTHENTICATED_HEALTH_METHODS,
                onRefused: (method, problem) => this.rejected(null, `unauthenticated call to ${method}: ${problem}`, 'unauthenticated'),
              }),
            ],
          }
        : { interceptors: [watch] }),
    });
    const protos = loadWireProtos();
    this.broadcast = new WeightsBroadcast({
      trainable: o.trainable,
      encoding: o.encoding ?? 'fp32',
      chunkBytes: tensorChunkBytes(max),
      encode: (m) => protos.encodeCoordinatorMessage(m),
    });
    this.server.addService(protos.coordinator.definition, {
      Join: (call: grpc.ServerUnaryCall<pb.JoinRequest, pb.JoinReply>, cb: grpc.sendUnaryData<pb.JoinReply>) => this.join(call.request, cb),
      Session: (call: SessionStream) => this.session(call),
    });
    this.health.addTo(this.server);
  }

  static async start(o: CoordinatorServerOptions): Promise<CoordinatorServer> {
    const s = new CoordinatorServer(o);
    const creds = await serverCredentials(o.security ?? { mode: 'insecure' });
    const port = await new Promise<number>((resolve, reject) => s.server.bindAsync(o.listen, creds, (err, p) => (err ? reject(err) : resolve(p))));
    if (!widenServerWindows(s.server)) o.log?.('HTTP/2 flow-control windows could not be widened (grpc-js internals changed): gradient uploads will be slower');
    const host = o.listen.slice(0, o.listen.lastIndexOf(':'));
    s.address = `${host}:${port}`;
    s.health.setStatus('', 'SERVING');
    s.health.setStatus(COORDINATOR_SERVICE, 'SERVING');
    const hb = o.heartbeatMs ?? 2000;
    const watch = o.events ? new ProgressWatch(o.events, o.stallLimitMs ?? 2 * (o.deadlineMs ?? 10 * 60_000) + 60_000) : undefined;
    let lastTick = performance.now();
    s.sweep = setInterval(() => {
      // A timer that fires late means this event loop was busy (a reduction, a GC pause, a frozen
      // process): the workers' heartbeats of that time are still unread, so nobody is evicted on
      // this tick. setImmediate runs after the poll phase, which reads what has arrived meanwhile.
      const now = performance.now();
      const lagging = now - lastTick > 1.5 * hb;
      lastTick = now;
      setImmediate(() => s.tick(hb, lagging, watch));
    }, hb);
    s.sweep.unref();
    return s;
  }

  /** Heartbeats to every worker; evicts the silent ones (not after a lag); health follows progress. */
  private tick(hb: number, lagging: boolean, watch: ProgressWatch | undefined): void {
    if (this.stopping) return;
    const now = performance.now();
    for (const w of this.o.pool.live()) {
      if (!(w instanceof RemoteWorker)) continue;
      // A worker whose heartbeats stop (host down, network cut) is evicted without waiting for TCP.
      if (!lagging && now - w.lastSeen > 5 * hb) {
        w.markDead(`no heartbeat for ${((now - w.lastSeen) / 1000).toFixed(1)} s`);
        this.o.pool.evict(w.id, 'heartbeats stopped');
        continue;
      }
      w.heartbeat();
    }
    if (watch) {
      const healthy = watch.healthy;
      if (healthy !== this.progressing) {
        this.progressing = healthy;
        this.o.log?.(healthy ? 'the run makes progress again: health SERVING' : `no progress for ${(watch.stalledMs() / 1000).toFixed(0)} s: health NOT_SERVING`);
      }
      this.health.setStatus(OVERALL, healthy ? 'SERVING' : 'NOT_SERVING');
    }
  }

  private join(req: pb.JoinRequest, cb: grpc.sendUnaryData<pb.JoinReply>): void {
    if (req.protocol_version !== PROTOCOL_VERSION) {
      this.rejected(null, `protocol version ${req.protocol_version}`, 'refused');
      cb({ code: grpc.status.FAILED_PRECONDITION, details: `protocol version ${req.protocol_version} is not this coordinator's ${PROTOCOL_VERSION} (worker software ${req.software_version}, coordinator ${SOFTWARE_VERSION}): run the same sam-lora version on both` });
      return;
    }
    const host = (req.capabilities?.hostname || 'worker').replace(/[^\w.-]/g, '_').slice(0, 64);
    const id = `${host}-${++this.joined}`;
    const caps = req.capabilities;
    const group = (caps?.group || host).replace(/[^\w.-]/g, '_').slice(0, 64);
    this.issued.set(id, { host, device: caps?.device === 'cuda' ? `cuda:${caps.gpu_index}` : wireText(caps?.device || '?', 16), group });
    const max = this.o.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    cb(null, {
      worker_id: id,
      run_id: this.o.runId,
      config_yaml: this.o.configYaml,
      fingerprint: this.o.fingerprint,
      samples_as_bytes: this.o.sampleBytes !== undefined,
      max_message_bytes: max,
      tensor_encoding: toWireEncoding(this.o.encoding ?? 'fp32'),
      heartbeat_interval_ms: this.o.heartbeatMs ?? 2000,
      coordinator_timeout_ms: this.o.coordinatorTimeoutMs ?? Math.max(30_000, 10 * (this.o.heartbeatMs ?? 2000)),
    });
  }

  private session(call: SessionStream): void {
    let remote: RemoteWorker | undefined;
    const refuse = (unsafe: string): void => {
      const reason = wireText(unsafe);
      this.rejected(null, reason, 'refused');
      this.o.log?.(`refused a worker: ${reason}`);
      call.write({ refusal: { reason } });
      call.end();
    };
    call.on('data', (m: pb.WorkerMessage) => {
      if (remote) return remote.onMessage(m);
      if (this.stopping) {
        // Not a refusal (that would end the worker): the same Stop the others got.
        call.write({ stop: { ...this.stopping, reconnect_after_ms: 0 } });
        call.end();
        return;
      }
      if (m.kind !== 'hello') return refuse('the first message of a session must be hello');
      const { worker_id: id, loaded } = m.hello;
      if (!this.issued.has(id)) return refuse(`unknown worker id ${JSON.stringify(id.slice(0, 80))}: call Join first`);
      if (this.o.pool.live().some((w) => w.id === id)) return refuse(`worker ${id} already has a session`);
      const diffs = loaded ? fingerprintDifferences(this.o.fingerprint, loaded) : ['no model fingerprint sent'];
      if (diffs.length) return refuse(`the worker's model does not match the run: ${diffs.join('; ')}`);
      remote = new RemoteWorker(id, call, {
        trainable: this.o.trainable,
        broadcast: this.broadcast,
        deadlineMs: this.o.deadlineMs ?? 10 * 60_000,
        ...(this.o.sampleBytes ? { sampleBytes: this.o.sampleBytes } : {}),
        onRejected: (reason) => this.rejected(id, reason, 'invalid'),
        ...(this.o.events ? { onBytes: (direction: 'sent' | 'received', bytes: number) => this.o.events!.emit({ kind: 'tensor_bytes', direction, workerId: id, bytes }) } : {}),
        placement: this.issued.get(id)!,
        evictionCooldownMs: this.o.evictionCooldownMs ?? 2000,
        encode: (m) => loadWireProtos().encodeCoordinatorMessage(m),
        maxMessageBytes: this.o.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
        onWorkers: () => this.o.pool.recount(id),
      });
      call.write({ welcome: { worker_id: id } });
      this.o.pool.add(remote);
    });
    const gone = (why: string): void => {
      if (!remote) return;
      if (!this.stopping) this.sessionsLost++;
      remote.markDead(why);
      this.o.pool.evict(remote.id, why);
    };
    call.on('end', () => {
      gone('the worker closed its session');
      try {
        call.end();
      } catch {
        // already ended
      }
    });
    call.on('error', (err) => gone(`session broke: ${err.message}`));
    call.on('cancelled', () => {
      const peer = call.getPeer();
      const tooLarge = this.oversize.get(peer);
      this.oversize.delete(peer);
      if (tooLarge === undefined) return gone('session cancelled (the worker disconnected)');
      this.rejected(remote?.id ?? null, `a message over the size limit: ${wireText(tooLarge)}`, 'invalid');
      gone(`sent a message over the size limit (${wireText(tooLarge)})`);
    });
  }

  private rejected(workerId: string | null, reason: string, cause: RejectionCause): void {
    this.rejectedMessages++;
    this.o.events?.emit({ kind: 'message_rejected', workerId, reason, cause });
  }

  /**
   * Stops every worker session and the server. `complete`: the run is over and the workers exit;
   * otherwise (a signal, a failure) they reconnect, to this coordinator restarted or its replacement.
   */
  async stop(complete: boolean, reason = complete ? 'the run is complete' : 'the coordinator is stopping; the run will resume'): Promise<void> {
    const kind: pb.StopKind = complete ? 'STOP_RUN_COMPLETE' : 'STOP_COORDINATOR_STOPPING';
    this.stopping = { reason, kind };
    clearInterval(this.sweep);
    this.health.shutdown();
    const lost = this.sessionsLost + this.o.pool.evictions;
    await Promise.all(this.o.pool.live().map((w) => (w instanceof RemoteWorker ? w.close(reason, kind) : w.close(reason))));
    const grace = this.o.completionGraceMs ?? 12_000;
    if (complete && grace > 0 && (lost > 0 || this.o.resumed)) {
      // Workers between sessions come back to be told the run is complete (see completionGraceMs).
      this.o.log?.(`the run is complete; answering returning workers for ${(grace / 1000).toFixed(0)} s`);
      await new Promise<void>((resolve) => setTimeout(resolve, grace));
    }
    // Give sessions a moment to end cleanly, then cut whatever is left (a worker joining late).
    await new Promise<void>((resolve) => {
      const force = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, 5000);
      this.server.tryShutdown(() => {
        clearTimeout(force);
        resolve();
      });
    });
  }

  forceStop(): void {
    this.server.forceShutdown();
  }
}

