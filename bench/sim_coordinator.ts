// The coordinator side of the link simulation, on the process's main thread: the real coordinator
// server (CoordinatorServer + WorkerPool) and a step loop that does what the training loop does with
// its workers' answers (coordinator/trainer.ts: weights to every endpoint, the step, each host
// group's gradients folded first, the sliced reduction, Adam), timed per step. The cluster (links,
// aggregators, stand-in GPUs) runs in another thread (bench/sim_cluster.ts).

import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { CoordinatorServer } from '../coordinator/grpc/coordinator_server.js';
import { foldByGroup } from '../coordinator/group_fold.js';
import { Adam } from '../coordinator/optimizer/adam.js';
import { reduceResultsSliced } from '../coordinator/reduce.js';
import { RunEvents } from '../coordinator/run_events.js';
import { WorkerPool } from '../coordinator/worker_pool.js';
import type { StepResult } from '../shared/contract/worker_endpoint.js';
import { BENCH_FINGERPRINT } from './fake_worker.js';
import type { ClusterData } from './sim_cluster.js';
import { type ClusterMessage, type CoordinatorCommand, type SimSpec, coordinatorEndpoints, coordinatorWorkers, simTensors } from './sim_spec.js';

export interface SimOptions {
  /** Measured steps (after one warm-up step). */
  steps: number;
  /** Run Adam on the reduced gradient, as the training loop does (bench:comm does not). */
  adam: boolean;
  /** Abandon the simulation after this long (ms). */
  timeoutMs?: number;
}

export interface SimStep {
  stepS: number;
  overheadS: number;
  /** Weights out to every endpoint (pool.sync). */
  broadcastS: number;
  /** The answers' wait beyond the simulated GPU step. */
  gatherBeyondStepS: number;
  /** Folding, reduction and, with `adam`, the update. */
  reduceAndUpdateS: number;
  /** Tensor payload bytes the coordinator's server received / sent (its metrics' count). */
  tensorBytesIn: number;
  tensorBytesOut: number;
  /** Everything that crossed the coordinator's NIC (gRPC framing, heartbeats); null without links. */
  wireBytesIn: number | null;
  wireBytesOut: number | null;
}

export interface SimResult {
  steps: SimStep[];
  /** Share of the measured steps' wall time each thread was busy (event loop utilization). */
  coordinatorThreadBusy: number;
  clusterThreadBusy: number;
  /** CPU seconds of the whole process (both threads) per measured step. */
  processCpuSPerStep: number;
  /** CPU seconds of the coordinator's thread alone per measured step (Linux: /proc, in 10 ms ticks; null elsewhere). */
  coordinatorThreadCpuSPerStep: number | null;
}

/** CPU seconds of this process's main thread so far, from /proc (its thread id is the process id); null where there is none. */
function mainThreadCpuSeconds(): number | null {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8');
    // Fields after the command name (in parentheses, which may hold spaces): utime and stime are the 12th and 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return null;
  }
}

/** USER_HZ: /proc counts CPU time in these ticks (100 on every Linux this runs on). */
const CLOCK_TICKS_PER_SECOND = 100;

/** Runs `spec` for one warm-up and `o.steps` measured steps. */
export async function simulate(spec: SimSpec, o: SimOptions): Promise<SimResult> {
  const trainable = new Map(spec.shapes.map(([k, s]) => [k, s as readonly number[]]));
  const params = simTensors(spec.shapes, 0);
  const events = new RunEvents();
  const traffic = { in: 0, out: 0 };
  events.on((e) => {
    if (e.kind === 'tensor_bytes') traffic[e.direction === 'received' ? 'in' : 'out'] += e.bytes;
  });
  const pool = new WorkerPool(coordinatorWorkers(spec));
  const server = await CoordinatorServer.start({ listen: '127.0.0.1:0', pool, runId: 'link-sim', configYaml: '', fingerprint: BENCH_FINGERPRINT, trainable, deadlineMs: 600_000, events });
  const cluster = new Worker(new URL('./sim_cluster.js', import.meta.url), { workerData: { spec, coordinator: server.address } satisfies ClusterData });
  const inbox = clusterInbox(cluster);
  const command = (c: CoordinatorCommand): void => cluster.postMessage(c);
  const counters = async (): Promise<{ in: number; out: number } | null> => {
    if (spec.links.gbps === null) return null;
    command({ kind: 'counters' });
    const m = await inbox.next('counters');
    return m.kind === 'counters' ? { in: m.bytesIn, out: m.bytesOut } : null;
  };
  const deadline = setTimeout(() => inbox.fail(new Error(`the simulation took more than ${o.timeoutMs} ms`)), o.timeoutMs ?? 600_000);
  let stopped = false;
  try {
    await Promise.race([Promise.all([pool.ready(), inbox.next('ready')]), inbox.failure]);
    const adam = new Adam({ lr: 1e-4 });
    let buffers: Map<string, Float32Array> | undefined;
    const steps: SimStep[] = [];
    let cpu0 = process.cpuUsage();
    let mainCpu0 = mainThreadCpuSeconds();
    let elu = performance.eventLoopUtilization();
    for (let step = 0; step <= o.steps; step++) {
      if (step === 1) {
        // Step 0 warmed up connections, JIT and buffers.
        command({ kind: 'measure_from_now' });
        cpu0 = process.cpuUsage();
        mainCpu0 = mainThreadCpuSeconds();
        elu = performance.eventLoopUtilization();
      }
      const wire0 = await counters();
      traffic.in = 0;
      traffic.out = 0;
      const t0 = performance.now();
      await Promise.race([pool.sync(step, params), inbox.failure]);
      const t1 = performance.now();
      const groupOf = new Map<StepResult, string>();
      const live = pool.live();
      if (live.length !== coordinatorEndpoints(spec)) throw new Error(`${coordinatorEndpoints(spec) - live.length} endpoint(s) were evicted: ${pool.evictions} eviction(s)`);
      const results = await Promise.race([
        Promise.all(
          live.map(async (w) => {
            const samples = spec.mode === 'direct' ? 1 : spec.gpusPerHost;
            const r = await w.trainStep({ epoch: 0, step, weightsVersion: step, samples: Array.from({ length: samples }, (_, i) => ({ id: `${w.id}-${i}` })) });
            groupOf.set(r, w.placement?.group ?? w.id);
            return r;
          }),
        ),
        inbox.failure,
      ]);
      const t2 = performance.now();
      const reduced = await reduceResultsSliced(foldByGroup(results, (r) => groupOf.get(r) ?? ''), trainable, buffers);
      buffers = reduced.grads;
      if (o.adam) adam.step(params, reduced.grads);
      const t3 = performance.now();
      const wire1 = await counters();
      if (step === 0) continue;
      steps.push({
        stepS: (t3 - t0) / 1000,
        overheadS: (t3 - t0 - spec.stepMs) / 1000,
        broadcastS: (t1 - t0) / 1000,
        gatherBeyondStepS: (t2 - t1 - spec.stepMs) / 1000,
        reduceAndUpdateS: (t3 - t2) / 1000,
        tensorBytesIn: traffic.in,
        tensorBytesOut: traffic.out,
        wireBytesIn: wire0 && wire1 ? wire1.in - wire0.in : null,
        wireBytesOut: wire0 && wire1 ? wire1.out - wire0.out : null,
      });
    }
    const cpu = process.cpuUsage(cpu0);
    const mainCpu1 = mainThreadCpuSeconds();
    const coordinatorThreadBusy = performance.eventLoopUtilization(elu).utilization;
    command({ kind: 'stop' });
    await server.stop(true);
    stopped = true;
    const done = await Promise.race([inbox.next('done'), inbox.failure]);
    return {
      steps,
      coordinatorThreadBusy,
      clusterThreadBusy: done.kind === 'done' ? done.eventLoopUtilization : Number.NaN,
      processCpuSPerStep: (cpu.user + cpu.system) / 1e6 / o.steps,
      coordinatorThreadCpuSPerStep: mainCpu0 !== null && mainCpu1 !== null ? (mainCpu1 - mainCpu0) / o.steps : null,
    };
  } finally {
    clearTimeout(deadline);
    if (!stopped) {
      command({ kind: 'stop' });
      await server.stop(true);
    }
    await cluster.terminate();
  }
}

/** The cluster thread's messages, awaited by kind; `failure` rejects when the thread fails or exits early. */
function clusterInbox(cluster: Worker): { next: (kind: ClusterMessage['kind']) => Promise<ClusterMessage>; failure: Promise<never>; fail: (err: Error) => void } {
  const waiting = new Map<string, ((m: ClusterMessage) => void)[]>();
  const early = new Map<string, ClusterMessage[]>();
  let fail!: (err: Error) => void;
  const failure = new Promise<never>((_, reject) => (fail = reject));
  failure.catch(() => undefined);
  let finished = false;
  cluster.on('message', (m: ClusterMessage) => {
    if (m.kind === 'failed') return fail(new Error(`the cluster thread failed: ${m.error}`));
    if (m.kind === 'done') finished = true;
    const w = waiting.get(m.kind)?.shift();
    if (w) w(m);
    else early.set(m.kind, [...(early.get(m.kind) ?? []), m]);
  });
  cluster.on('error', (err) => fail(err));
  cluster.on('exit', (code) => {
    if (!finished) fail(new Error(`the cluster thread exited (${code}) before the run was over`));
  });
  const next = (kind: ClusterMessage['kind']): Promise<ClusterMessage> => {
    const m = early.get(kind)?.shift();
    if (m) return Promise.resolve(m);
    return new Promise((resolve) => waiting.set(kind, [...(waiting.get(kind) ?? []), resolve]));
  };
  return { next, failure, fail };
}
