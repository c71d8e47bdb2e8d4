// A host group's aggregator (`sam-lora aggregator`): upstream it is one worker of the run (the
// worker side of the protocol, worker/grpc_worker.ts, with the group as its compute); downstream it
// is a coordinator server for the group's workers (coordinator/grpc/coordinator_server.ts), with the
// run's config, fingerprint, encoding, token and TLS. Per step the coordinator sends it one weights
// version and one assignment and gets one partial sum back, whatever the group's size. When the run
// is complete its workers are told so; when it stops or dies they connect to the coordinator
// directly (see RemoteWorkerOptions.aggregator).

import { CoordinatorServer } from '../coordinator/grpc/coordinator_server.js';
import { WorkerPool } from '../coordinator/worker_pool.js';
import type { ModelFingerprint } from '../shared/wire/messages.js';
import type * as pb from '../shared/wire/messages.js';
import type { ClientSecurity, ServerSecurity, SharedToken } from '../shared/wire/security.js';
import { fromWireEncoding } from '../shared/wire/tensor_codec.js';
import { WorkerRefusedError, type WorkerLogLevel, runRemoteWorker } from '../worker/grpc_worker.js';
import type { ComputeProvider, GroupSizeSource, PreparedCompute } from '../worker/session_compute.js';
import { GroupCompute } from './group_compute.js';

export interface AggregatorOptions {
  /** HOST:PORT of the coordinator. */
  coordinator: string;
  /** HOST:PORT the group's workers connect to (port 0: any free port, see onListening). */
  listen: string;
  /** The host group served (default: the hostname, as the coordinator would name it). */
  group: string;
  /** The run's token: presented upstream and required downstream. */
  token?: SharedToken;
  /** TLS to the coordinator. */
  upstreamSecurity?: ClientSecurity;
  /** TLS for the group's workers. */
  serverSecurity?: ServerSecurity;
  /** Deadline of one step on one of the group's workers (default 10 minutes). */
  deadlineMs?: number;
  signal?: AbortSignal;
  log?: (line: string, level?: WorkerLogLevel) => void;
  /** Told the address the group's workers can connect to, once it listens. */
  onListening?: (address: string) => void;
  /** Give up after this many failed connections to the coordinator in a row (default: never). */
  maxAttempts?: number;
  giveUpAfterMs?: number;
}

/** Serves the group until the run is complete (resolves) or the aggregator is refused (rejects). */
export async function runAggregator(o: AggregatorOptions): Promise<void> {
  const group = new HostGroup(o);
  let complete = false;
  try {
    await runRemoteWorker({
      address: o.coordinator,
      runtime: {},
      group: o.group,
      compute: group,
      ...(o.token ? { token: o.token } : {}),
      ...(o.upstreamSecurity ? { security: o.upstreamSecurity } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
      ...(o.log ? { log: o.log } : {}),
      ...(o.maxAttempts !== undefined ? { maxAttempts: o.maxAttempts } : {}),
      ...(o.giveUpAfterMs !== undefined ? { giveUpAfterMs: o.giveUpAfterMs } : {}),
    });
    complete = !o.signal?.aborted;
  } finally {
    // Complete: the workers exit. Otherwise they go to the coordinator directly.
    await group.stop(complete);
  }
}

/** The group's server and compute, started at the first Join (it needs the run's settings). */
class HostGroup implements ComputeProvider {
  readonly device = 'aggregator';
  private readonly pool: WorkerPool;
  private readonly trainable = new Map<string, readonly number[]>();
  private readonly compute: GroupCompute;
  private server?: CoordinatorServer;
  private run?: { id: string; configYaml: string };

  /** Told whenever the group's workers change (the session tells the coordinator: GroupSize). */
  private readonly sizeWatchers = new Set<() => void>();
  private readonly groupSize: GroupSizeSource;

  constructor(private readonly o: AggregatorOptions) {
    this.pool = new WorkerPool(1, (e) => {
      if (e.kind === 'joined') o.log?.(`group ${o.group}: worker ${e.id} joined (${e.host}, ${e.device})`);
      else if (e.kind === 'evicted') o.log?.(`group ${o.group}: worker ${e.id} left: ${e.reason}`, 'warn');
      if (e.kind === 'joined' || e.kind === 'evicted') for (const changed of this.sizeWatchers) changed();
    });
    const pool = this.pool;
    this.groupSize = {
      get size(): number {
        return pool.size;
      },
      watch: (changed) => {
        this.sizeWatchers.add(changed);
        return () => void this.sizeWatchers.delete(changed);
      },
    };
    this.compute = new GroupCompute({ group: o.group, pool: this.pool, trainable: this.trainable, log: (l) => o.log?.(l, 'warn') });
  }

  async prepare(reply: pb.JoinReply, _address: string, log: (line: string, level?: WorkerLogLevel) => void, signal?: AbortSignal): Promise<PreparedCompute> {
    const fingerprint: ModelFingerprint | null = reply.fingerprint;
    if (!fingerprint) throw new Error('the coordinator sent no model fingerprint');
    if (this.run && (this.run.id !== reply.run_id || this.run.configYaml !== reply.config_yaml)) {
      throw new WorkerRefusedError(`this aggregator serves run ${this.run.id}; the coordinator now runs ${reply.run_id} with another config: start a new aggregator`);
    }
    if (!this.server) {
      const encoding = fromWireEncoding(reply.tensor_encoding) ?? 'fp32';
      this.server = await CoordinatorServer.start({
        listen: this.o.listen,
        pool: this.pool,
        runId: reply.run_id,
        configYaml: reply.config_yaml,
        fingerprint,
        trainable: this.trainable,
        encoding,
        maxMessageBytes: reply.max_message_bytes,
        ...(reply.samples_as_bytes ? { sampleBytes: (id: string) => this.compute.sampleBytes(id) } : {}),
        deadlineMs: this.o.deadlineMs ?? 10 * 60_000,
        ...(reply.heartbeat_interval_ms > 0 ? { heartbeatMs: reply.heartbeat_interval_ms } : {}),
        ...(reply.coordinator_timeout_ms > 0 ? { coordinatorTimeoutMs: reply.coordinator_timeout_ms } : {}),
        ...(this.o.token ? { token: this.o.token } : {}),
        ...(this.o.serverSecurity ? { security: this.o.serverSecurity } : {}),
        log: (l) => log(l),
      });
      this.run = { id: reply.run_id, configYaml: reply.config_yaml };
      log(`group ${this.o.group}: serving run ${reply.run_id} to the group's workers at ${this.server.address}`);
      this.o.onListening?.(this.server.address);
    }
    // One worker of the run for the coordinator only once the group has a worker to compute with.
    // Waiting for it may take long, while the coordinator may restart and forget this Join's id:
    // after a wait the session joins again.
    const waited = this.pool.size === 0;
    await this.pool.ready(signal);
    return { loaded: fingerprint, start: () => Promise.resolve(this.compute), groupSize: this.groupSize, ...(waited ? { joinAgain: true } : {}) };
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  async stop(complete: boolean): Promise<void> {
    await this.server?.stop(complete, complete ? 'the run is complete' : 'the aggregator is stopping: connect to the coordinator directly');
  }
}
