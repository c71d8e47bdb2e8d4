// The cluster side of the link simulation, run in its own thread of the simulation's process (the
// coordinator has the main thread to itself, as it has its host to itself on a cluster): the links
// (bench/shaped_link.ts proxies: the coordinator's NIC, each host's NIC, each host's loopback),
// the real aggregators (runAggregator) and the stand-in GPUs, each behind the real worker client
// (runRemoteWorker with bench/stand_in_compute.ts), or the coordinator's lean stand-in endpoints
// (bench/lean_endpoint.ts). Everything here shares this one thread: work that runs in parallel on a
// cluster's hosts (the workers' decoding and encoding) is serialized.

import { setMaxListeners } from 'node:events';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { runAggregator } from '../aggregator/run_aggregator.js';
import { errorWithStack } from '../shared/errors/error_message.js';
import { runRemoteWorker } from '../worker/grpc_worker.js';
import { type LinkShape, type ShapedProxy, TokenBucket, startShapedProxy } from './shaped_link.js';
import { type ClusterMessage, type CoordinatorCommand, type SimSpec, simTensors } from './sim_spec.js';
import { StandInCompute } from './stand_in_compute.js';
import { SharedGradient, runLeanEndpoint } from './lean_endpoint.js';

export interface ClusterData {
  spec: SimSpec;
  /** HOST:PORT of the coordinator's server. */
  coordinator: string;
}

/** Builds the cluster, tells the coordinator's thread when every GPU has joined, serves until the run is complete. */
async function runCluster({ spec, coordinator }: ClusterData, post: (m: ClusterMessage) => void, commands: AsyncIterable<CoordinatorCommand>, stop: AbortController): Promise<void> {
  const bps = (gbps: number | null): number => (gbps === null ? Number.POSITIVE_INFINITY : (gbps * 1e9) / 8);
  const nic = (): { in: TokenBucket; out: TokenBucket } => ({ in: new TokenBucket(bps(spec.links.gbps)), out: new TokenBucket(bps(spec.links.gbps)) });
  const coordinatorNic = nic();
  const proxies: ShapedProxy[] = [];
  // A connection to `target` through `shape`; plain (no proxy) when the links are not modelled.
  const via = async (target: string, shape: LinkShape): Promise<string> => {
    if (spec.links.gbps === null) return target;
    const p = await startShapedProxy(target, shape);
    proxies.push(p);
    return p.address;
  };
  const grads = simTensors(spec.shapes, 1);
  const running: Promise<void>[] = [];
  const hashes = new Map<number, string>();
  const gradient = new SharedGradient(spec.shapes, grads);
  // An endpoint of the coordinator: lean, or the real client with a stand-in GPU.
  const endpoint = (address: string, group: string, workers?: number): void => {
    if (!spec.lean) return worker(address, group, workers);
    running.push(runLeanEndpoint({ address, group, stepMs: spec.stepMs, gradient, ...(workers !== undefined ? { workers } : {}) }));
  };
  const worker = (address: string, group: string, workers?: number): void => {
    const compute = new StandInCompute({ stepMs: spec.stepMs, grads, hashes, ...(workers !== undefined ? { workers } : {}) });
    const log = process.env.BENCH_DEBUG ? (line: string) => process.stderr.write(`worker of ${group}: ${line}\n`) : undefined;
    running.push(runRemoteWorker({ address, group, runtime: {}, compute, signal: stop.signal, maxAttempts: 3, ...(log ? { log } : {}) }));
  };
  const joined = new Map<string, number>();
  let readySent = false;
  const checkReady = (): void => {
    if (readySent || spec.mode !== 'aggregators') return;
    if ([...Array(spec.hosts).keys()].every((h) => (joined.get(`h${h}`) ?? 0) >= spec.gpusPerHost)) {
      readySent = true;
      post({ kind: 'ready' });
    }
  };
  for (let h = 0; h < spec.hosts; h++) {
    const group = `h${h}`;
    const hostNic = nic();
    const upstream = await via(coordinator, { up: [hostNic.out, coordinatorNic.in], down: [coordinatorNic.out, hostNic.in], latencyMs: spec.links.latencyMs });
    if (spec.mode === 'direct') for (let g = 0; g < spec.gpusPerHost; g++) endpoint(upstream, group);
    else if (spec.mode === 'host_endpoints') endpoint(upstream, group, spec.gpusPerHost);
    else {
      const loopback = { up: [new TokenBucket(bps(spec.links.loopbackGbps))], down: [new TokenBucket(bps(spec.links.loopbackGbps))], latencyMs: 0 };
      let listening!: (address: string) => void;
      const address = new Promise<string>((resolve) => (listening = resolve));
      running.push(
        runAggregator({
          coordinator: upstream,
          listen: '127.0.0.1:0',
          group,
          signal: stop.signal,
          maxAttempts: 3,
          onListening: listening,
          log: (line) => {
            if (process.env.BENCH_DEBUG) process.stderr.write(`aggregator ${group}: ${line}\n`);
            if (/ worker \S+ joined/.test(line)) {
              joined.set(group, (joined.get(group) ?? 0) + 1);
              checkReady();
            }
          },
        }),
      );
      const local = await via(await address, loopback);
      for (let g = 0; g < spec.gpusPerHost; g++) worker(local, group);
    }
  }
  // Without aggregators the coordinator's pool alone says when everyone is there.
  if (spec.mode !== 'aggregators') post({ kind: 'ready' });
  let elu = performance.eventLoopUtilization();
  const served = (async () => {
    for await (const c of commands) {
      if (c.kind === 'counters') post({ kind: 'counters', bytesIn: coordinatorNic.in.bytes, bytesOut: coordinatorNic.out.bytes });
      else if (c.kind === 'measure_from_now') elu = performance.eventLoopUtilization();
      else stop.abort();
    }
  })();
  await Promise.all(running);
  const busy = performance.eventLoopUtilization(elu).utilization;
  await Promise.all(proxies.map((p) => p.close()));
  post({ kind: 'done', eventLoopUtilization: busy });
  void served;
}

/** The coordinator thread's commands as they come. */
async function* commandsOf(port: NonNullable<typeof parentPort>): AsyncIterable<CoordinatorCommand> {
  const pending: CoordinatorCommand[] = [];
  let wake: (() => void) | undefined;
  port.on('message', (m: CoordinatorCommand) => {
    pending.push(m);
    wake?.();
  });
  for (;;) {
    while (pending.length) yield pending.shift()!;
    await new Promise<void>((resolve) => (wake = resolve));
    wake = undefined;
  }
}

if (!isMainThread && parentPort) {
  const port = parentPort;
  const stop = new AbortController();
  // Every endpoint listens for it (one per connection attempt).
  setMaxListeners(0, stop.signal);
  runCluster(workerData as ClusterData, (m) => port.postMessage(m), commandsOf(port), stop).then(
    () => port.close(),
    (err: unknown) => {
      port.postMessage({ kind: 'failed', error: errorWithStack(err) } satisfies ClusterMessage);
      port.close();
    },
  );
}
