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
// node dist/bench/comm_overhead.js [--workers 1,2,4,8] [--ranks 4,64,512] [--steps 5] [--delay-ms 1000] [--bf16] [--no-floor]
// One JSON line per (workers, rank) on stdout.

import { type ChildProcess, spawn } from 'node:child_process';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CoordinatorServer } from '../coordinator/grpc/coordinator_server.js';
import { type Reduced, reduceResults } from '../coordinator/reduce.js';
import { WorkerPool } from '../coordinator/worker_pool.js';
import { VARIANTS } from '../shared/sam/config.js';
import { defaultLoraSpec, loraLayout } from '../shared/sam/lora.js';
import type { TensorEncoding } from '../shared/wire/tensor_codec.js';
import { BENCH_FINGERPRINT } from './fake_worker.js';
import { socketFloorSeconds } from './socket_floor.js';
import { errorWithStack } from '../shared/errors/error_message.js';

const FAKE_WORKER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fake_worker.js');

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

async function measure(workers: number, rank: number, steps: number, delayMs: number, encoding: TensorEncoding): Promise<Record<string, unknown>> {
  const layout = loraLayout(VARIANTS.vit_b, defaultLoraSpec(VARIANTS.vit_b, rank));
  const trainable = new Map(layout.map((l) => [l.key, l.shape as readonly number[]]));
  const params = new Map(layout.map((l) => [l.key, Float32Array.from({ length: l.shape[0] * l.shape[1] }, (_, i) => Math.cos(i) * 1e-2)]));
  const elements = [...params.values()].reduce((a, p) => a + p.length, 0);
  const pool = new WorkerPool(workers);
  const server = await CoordinatorServer.start({ listen: '127.0.0.1:0', pool, runId: 'bench', configYaml: '', fingerprint: BENCH_FINGERPRINT, trainable, deadlineMs: 600_000, encoding });
  const fakes = Array.from({ length: workers }, () => fakeWorker(server.address, delayMs));
  let stopped = false;
  try {
    await pool.ready();
    const times: number[] = [];
    const cpu: number[] = [];
    const phases = { broadcast: [] as number[], gather: [] as number[], reduce: [] as number[] };
    let reduced: Reduced | undefined;
    for (let step = 0; step <= steps; step++) {
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      await pool.sync(step, params);
      const t1 = performance.now();
      const results = await Promise.all(pool.live().map((w) => w.trainStep({ epoch: 0, step, weightsVersion: step, samples: [{ id: `bench-${w.id}` }] })));
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
      rank,
      lora_elements: elements,
      bytes_per_step: 2 * workers * elements * wireBytes,
      median_step_s: stepS,
      overhead_s: overhead,
      overhead_ratio: overhead / stepS,
      median_phase_s: { broadcast: median(phases.broadcast), gather_beyond_delay: median(phases.gather), reduce: median(phases.reduce) },
      coordinator_cpu_s_per_step: median(cpu),
      // CPU of one worker's step cycle (decode the weights, encode and send the gradients); the
      // simulated compute is a timer and costs none. With all workers on this host's cores, the
      // sum over workers plus the coordinator's is the CPU a step needs here.
      worker_cpu_s_per_step: workerCycles.length ? median(workerCycles) : null,
    };
  } finally {
    if (!stopped) await server.stop(true);
    await Promise.all(fakes.map((f) => f.cpu));
  }
}

/** measure() plus, unless skipped, the same traffic over plain sockets (bench/socket_floor.ts). */
async function measureWithFloor(workers: number, rank: number, steps: number, delayMs: number, encoding: TensorEncoding, floor: boolean): Promise<Record<string, unknown>> {
  const r = await measure(workers, rank, steps, delayMs, encoding);
  if (!floor) return r;
  const bytes = (r.bytes_per_step as number) / (2 * workers);
  const floorS = await socketFloorSeconds(workers, bytes, steps);
  return { ...r, socket_floor_s: floorS, socket_floor_is: 'the same bytes between the same processes over plain TCP, summed, no protocol: the least any transport needs on this host' };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { workers: { type: 'string' }, ranks: { type: 'string' }, steps: { type: 'string' }, 'delay-ms': { type: 'string' }, bf16: { type: 'boolean' }, 'no-floor': { type: 'boolean' } } });
  const list = (v: string | undefined, d: number[]): number[] => (v ? v.split(',').map(Number) : d);
  for (const rank of list(values.ranks, [4, 64, 512])) {
    for (const workers of list(values.workers, [1, 2, 4, 8])) {
      const r = await measureWithFloor(workers, rank, Number(values.steps ?? 5), Number(values['delay-ms'] ?? 1000), values.bf16 ? 'bf16' : 'fp32', !values['no-floor']);
      process.stdout.write(`${JSON.stringify(r)}\n`);
    }
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`comm_overhead: ${errorWithStack(err)}\n`);
  process.exitCode = 1;
});
