// Communication overhead of synchronous data parallel over gRPC: per step, the coordinator sends
// every worker the new LoRA weights and gathers every worker's gradients (ViT-B-sized LoRA: q/v of
// 12 blocks, dim 768), while the workers' compute is SIMULATED by a fixed delay. Overhead = step
// time minus the delay. Workers are separate processes (bench/fake_worker.ts) on this host, so
// their decoding and encoding share this machine's cores with the coordinator: on a cluster each
// has its own machine, so this is the pessimistic side.
//
// Each line also gives socket_floor_s (bench/socket_floor.ts): the same bytes over plain TCP, the
// least any transport could need on this host (--no-floor skips it).
//
// With --groups G, the workers form G host groups, each behind its own aggregator process
// (`sam-lora aggregator`, aggregator/): the coordinator then exchanges one weights version and one
// gradient sum per group and step. G equal to the workers (the default) is today's star, no
// aggregator. coordinator_bytes_in_per_step / _out_per_step are the tensor payload bytes the
// coordinator received / sent per step, counted by its server (as the run's metrics count them).
//
// node dist/bench/comm_overhead.js [--workers 1,2,4,8] [--groups 1,2,8] [--ranks 4,64,512] [--steps 5] [--delay-ms 1000] [--bf16] [--no-floor]
// One JSON line per (rank, workers, groups) on stdout.

import { type ChildProcess, spawn } from 'node:child_process';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CoordinatorServer } from '../coordinator/grpc/coordinator_server.js';
import { type Reduced, reduceResults } from '../coordinator/reduce.js';
import { WorkerPool } from '../coordinator/worker_pool.js';
import { RunEvents } from '../coordinator/run_events.js';
import { VARIANTS } from '../shared/sam/config.js';
import { defaultLoraSpec, loraLayout } from '../shared/sam/lora.js';
import type { TensorEncoding } from '../shared/wire/tensor_codec.js';
import { BENCH_FINGERPRINT } from './fake_worker.js';
import { socketFloorSeconds } from './socket_floor.js';
import { errorWithStack } from '../shared/errors/error_message.js';

const FAKE_WORKER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fake_worker.js');
const CLI = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'sam-lora.js');

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Starts a fake worker process; resolves with its CPU seconds per step cycle when it exits. */
function fakeWorker(address: string, delayMs: number): { child: ChildProcess; cpu: Promise<number[]> } {
  const child = spawn(process.execPath, [...(process.env.FAKE_WORKER_NODE_ARGS ?? '').split(' ').filter(Boolean), FAKE_WORKER, address, String(delayMs)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const cpu = new Promise<number[]>((resolve) => child.once('exit', () => resolve((JSON.parse(out.trim() || '{"step_cycle_cpu_s":[]}') as { step_cycle_cpu_s: number[] }).step_cycle_cpu_s)));
  return { child, cpu };
}

/** An aggregator process for group `group`; resolves its address, and then when all `members` joined it. */
function aggregator(coordinator: string, group: string): { child: ChildProcess; address: Promise<string>; joined: (n: number) => Promise<void> } {
  const child = spawn(process.execPath, [CLI, 'aggregator', '--coordinator', coordinator, '--listen', '127.0.0.1:0', '--group', group, '--connect-attempts', '3', '--log-level', 'info'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  const waiters: { n: number; resolve: () => void }[] = [];
  const joinedCount = (): number => (err.match(/worker \S+ joined/g) ?? []).length;
  let found: (a: string) => void = () => undefined;
  const address = new Promise<string>((resolve, reject) => {
    found = resolve;
    child.once('exit', (code) => reject(new Error(`aggregator ${group} exited (${code}):\n${err.slice(-2000)}`)));
  });
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
    if (process.env.BENCH_DEBUG) process.stderr.write(d);
    const m = /listening at (\S+)/.exec(err);
    if (m) found(m[1]!);
    for (const w of waiters.filter((x) => joinedCount() >= x.n)) w.resolve();
  });
  const joined = (n: number): Promise<void> => (joinedCount() >= n ? Promise.resolve() : new Promise((resolve) => waiters.push({ n, resolve })));
  return { child, address, joined };
}

async function measure(workers: number, groups: number, rank: number, steps: number, delayMs: number, encoding: TensorEncoding): Promise<Record<string, unknown>> {
  const layout = loraLayout(VARIANTS.vit_b, defaultLoraSpec(VARIANTS.vit_b, rank));
  const trainable = new Map(layout.map((l) => [l.key, l.shape as readonly number[]]));
  const params = new Map(layout.map((l) => [l.key, Float32Array.from({ length: l.shape[0] * l.shape[1] }, (_, i) => Math.cos(i) * 1e-2)]));
  const elements = [...params.values()].reduce((a, p) => a + p.length, 0);
  const grouped = groups < workers;
  // Group k gets workers k, k + groups, ...: sizes differ by at most one.
  const sizes = Array.from({ length: grouped ? groups : workers }, (_, k) => (grouped ? Math.floor(workers / groups) + (k < workers % groups ? 1 : 0) : 1));
  // min_workers counts workers: an aggregator reports its group's size (GroupSize).
  const pool = new WorkerPool(workers);
  // The coordinator's tensor payload bytes, as its server reports them to the run's metrics.
  const events = new RunEvents();
  const traffic = { in: 0, out: 0 };
  events.on((e) => {
    if (e.kind === 'tensor_bytes') traffic[e.direction === 'received' ? 'in' : 'out'] += e.bytes;
  });
  const server = await CoordinatorServer.start({ listen: '127.0.0.1:0', pool, runId: 'bench', configYaml: '', fingerprint: BENCH_FINGERPRINT, trainable, deadlineMs: 600_000, encoding, events });
  const aggregators = grouped ? sizes.map((_, k) => aggregator(server.address, `g${k}`)) : [];
  const fakes = grouped
    ? (await Promise.all(aggregators.map((a) => a.address))).flatMap((address, k) => Array.from({ length: sizes[k]! }, () => fakeWorker(address, delayMs)))
    : Array.from({ length: workers }, () => fakeWorker(server.address, delayMs));
  let stopped = false;
  try {
    await pool.ready();
    await Promise.all(aggregators.map((a, k) => a.joined(sizes[k]!)));
    // One sample per worker: an aggregator carries its group's.
    const samplesOf = (group: string | undefined): number => (grouped ? sizes[Number(group?.slice(1))] ?? 1 : 1);
    const times: number[] = [];
    const cpu: number[] = [];
    const phases = { broadcast: [] as number[], gather: [] as number[], reduce: [] as number[] };
    const bytesIn: number[] = [];
    const bytesOut: number[] = [];
    let reduced: Reduced | undefined;
    for (let step = 0; step <= steps; step++) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      traffic.in = 0;
      traffic.out = 0;
      await pool.sync(step, params);
      const t1 = performance.now();
      const results = await Promise.all(
        pool.live().map((w) => w.trainStep({ epoch: 0, step, weightsVersion: step, samples: Array.from({ length: samplesOf(w.placement?.group) }, (_, i) => ({ id: `bench-${w.id}-${i}` })) })),
      );
      const t2 = performance.now();
      reduced = reduceResults(results, trainable, reduced?.grads);
      const t3 = performance.now();
      if (step === 0) continue; // warm-up: connections, JIT, first allocations
      const c = process.cpuUsage(c0);
      times.push((t3 - t0) / 1000);
      cpu.push((c.user + c.system) / 1e6);
      phases.broadcast.push((t1 - t0) / 1000);
      phases.gather.push((t2 - t1 - delayMs) / 1000);
      phases.reduce.push((t3 - t2) / 1000);
      bytesIn.push(traffic.in);
      bytesOut.push(traffic.out);
    }
    const stepS = median(times);
    const overhead = stepS - delayMs / 1000;
    const wireBytes = encoding === 'bf16' ? 2 : 4;
    await server.stop(true);
    stopped = true;
    // Each worker's cycles after its first (warm-up) one.
    const workerCycles = (await Promise.all(fakes.map((f) => f.cpu))).flatMap((c) => c.slice(1));
    return {
      bench: 'comm_overhead',
      compute: `simulated: fixed ${delayMs} ms delay per worker`,
      workers_as: 'separate processes on this host',
      encoding,
      workers,
      groups: sizes.length,
      aggregators: grouped ? 'one process per group (sam-lora aggregator) on this host' : 'none: every worker talks to the coordinator',
      rank,
      lora_elements: elements,
      bytes_per_step: 2 * sizes.length * elements * wireBytes,
      coordinator_bytes_in_per_step: median(bytesIn),
      coordinator_bytes_out_per_step: median(bytesOut),
      median_step_s: stepS,
      overhead_s: overhead,
      overhead_ratio: overhead / stepS,
      median_phase_s: { broadcast: median(phases.broadcast), gather_beyond_delay: median(phases.gather), reduce: median(phases.reduce) },
      reduction_s_per_step: median(phases.reduce),
      coordinator_cpu_s_per_step: median(cpu),
      // CPU of one worker's step cycle (decode the weights, encode and send the gradients); the
      // simulated compute is a timer and costs none. With all workers on this host's cores, the
      // sum over workers plus the coordinator's is the CPU a step needs here.
      worker_cpu_s_per_step: workerCycles.length ? median(workerCycles) : null,
    };
  } finally {
    if (!stopped) await server.stop(true);
    await Promise.all(fakes.map((f) => f.cpu));
    await Promise.all(aggregators.map((a) => (a.child.exitCode === null ? new Promise((resolve) => a.child.once('exit', resolve)) : undefined)));
  }
}

/** measure() plus, unless skipped, the same traffic over plain sockets (bench/socket_floor.ts). */
async function measureWithFloor(workers: number, groups: number, rank: number, steps: number, delayMs: number, encoding: TensorEncoding, floor: boolean): Promise<Record<string, unknown>> {
  const r = await measure(workers, groups, rank, steps, delayMs, encoding);
  if (!floor) return r;
  const peers = r.groups as number;
  const bytes = (r.bytes_per_step as number) / (2 * peers);
  const floorS = await socketFloorSeconds(peers, bytes, steps);
  return { ...r, socket_floor_s: floorS, socket_floor_is: 'the same bytes between the same processes over plain TCP, summed, no protocol: the least any transport needs on this host' };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { workers: { type: 'string' }, groups: { type: 'string' }, ranks: { type: 'string' }, steps: { type: 'string' }, 'delay-ms': { type: 'string' }, bf16: { type: 'boolean' }, 'no-floor': { type: 'boolean' } } });
  const list = (v: string | undefined, d: number[]): number[] => (v ? v.split(',').map(Number) : d);
  for (const rank of list(values.ranks, [4, 64, 512])) {
    for (const workers of list(values.workers, [1, 2, 4, 8])) {
      for (const groups of list(values.groups, [workers])) {
        if (!(Number.isInteger(groups) && groups >= 1)) throw new Error(`--groups ${groups}: expected whole numbers >= 1`);
        // More groups than workers: not a configuration (the list serves several --workers values).
        if (groups > workers) continue;
        const r = await measureWithFloor(workers, groups, rank, Number(values.steps ?? 5), Number(values['delay-ms'] ?? 1000), values.bf16 ? 'bf16' : 'fp32', !values['no-floor']);
        process.stdout.write(`${JSON.stringify(r)}\n`);
      }
    }
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`comm_overhead: ${errorWithStack(err)}\n`);
  process.exitCode = 1;
});
