// A simulation of a step's communication overhead at cluster scale, running the real code: the real
// coordinator server and step loop (bench/sim_coordinator.ts, main thread), real aggregators
// (runAggregator) and the real worker client (runRemoteWorker) with stand-in GPUs (a fixed wait, then
// a precomputed gradient of the real size: bench/stand_in_compute.ts), all in ONE process, every
// connection through a TCP proxy that models its link by bandwidth and latency (bench/shaped_link.ts:
// a token bucket per NIC and direction, shared by everything crossing that NIC, then the latency).
//
// What is real: the coordinator's server, pool, fold, sliced reduction and Adam, on their own thread
// as on their own host; the aggregators' and the workers' protocol code; every byte of every
// message, over real TCP. What is modelled: the GPUs (a timer), the links (token buckets at --gbps
// per NIC and --loopback-gbps inside a host, --latency-ms one way). What is extrapolated: this host
// has 2 cores, so 64 hosts' CPU work cannot run in parallel here in real time. Hence each
// configuration is measured in two levels that a cluster runs in parallel, and added:
//  - the coordinator level: the coordinator with its E endpoints over its shaped NIC, the endpoints
//    lean stand-ins (bench/lean_endpoint.ts: the same messages and bytes, none of a host's own work);
//  - one endpoint's own level, measured for real once: a host's real aggregator with its GPUs' real
//    worker clients (host groups), or one real worker client (direct), each through a real
//    coordinator with that one endpoint, minus the coordinator level of one lean endpoint (which
//    that measurement contains). Hosts are identical and parallel on a cluster: one is every one.
//  host groups, H hosts: overhead = coordinator level(H lean host endpoints) + host level - coordinator level(1)
//  direct, H x G GPUs:   overhead = coordinator level(H x G lean workers) + 1 real worker - 1 lean worker
// Direct is measured up to --max-direct-endpoints and extrapolated beyond on the line through the
// two largest measured (64 x 8 = 512 endpoints would hold 8.6 GB of gradients in this process).
// Both threads of the process share this host's 2 cores (and other jobs'): each level's line gives
// the coordinator thread's own CPU and both threads' busy share. The host level runs the host's 8
// workers' decoding and encoding one after another on one thread, where a host runs them at once:
// it is an upper bound (README "Host groups"). Hence also, per measured coordinator level, the
// same run dilated (--dilation k: tensors and bandwidths divided by k, so the links take as long
// and the CPU a k-th): its overhead less its coordinator thread's CPU is the links' part of the
// step (how the real traffic uses them, overlap included), and that plus the full-size coordinator
// thread's CPU is `estimate_s`, the coordinator level on a cluster with this host's CPU speed.
//
// The check against real runs (--only check, or the first lines): 8 workers in 1/2/8 groups at rank
// 4 without the decoder, the simulation next to bench/comm_overhead.js (separate worker and
// aggregator processes, plain loopback) run here in the same call: the coordinator's tensor bytes
// must be equal, the times comparable.
//
// node dist/bench/link_sim.js [--only check|scale] [--check-steps 5] [--scale-steps 5] [--step-ms 300]
//   [--gbps 25] [--latency-ms 0.05] [--loopback-gbps 20] [--rank 4] [--decoder-params 4058340]
//   [--clusters 8x8,64x8] [--max-direct-endpoints 64] [--dilation 32]
// One JSON line per check and per (cluster, direct | host groups) on stdout.

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { errorWithStack } from '../shared/errors/error_message.js';
import { VARIANTS } from '../shared/sam/config.js';
import { defaultLoraSpec, loraLayout } from '../shared/sam/lora.js';
import { type SimResult, simulate } from './sim_coordinator.js';
import type { SimLinks, SimMode, SimSpec } from './sim_spec.js';

const COMM_OVERHEAD = fileURLToPath(new URL('./comm_overhead.js', import.meta.url));

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** The trainable tensors: ViT-B q/v LoRA at `rank`, plus the mask decoder as one tensor when `decoderParams` > 0. */
function shapesOf(rank: number, decoderParams: number): [string, number[]][] {
  const shapes: [string, number[]][] = loraLayout(VARIANTS.vit_b, defaultLoraSpec(VARIANTS.vit_b, rank)).map((l) => [l.key, [...l.shape]]);
  if (decoderParams > 0) shapes.push(['mask_decoder', [decoderParams]]);
  return shapes;
}

/** A simulation's medians per step, as the JSON lines print them. */
function summary(r: SimResult, stepMs: number): Record<string, number | null> {
  const m = (f: (s: SimResult['steps'][number]) => number | null): number | null => {
    const xs = r.steps.map(f);
    return xs.some((x) => x === null) ? null : median(xs as number[]);
  };
  const overhead = m((s) => s.overheadS)!;
  return {
    coordinator_bytes_in_per_step: m((s) => s.tensorBytesIn),
    coordinator_bytes_out_per_step: m((s) => s.tensorBytesOut),
    coordinator_wire_bytes_in_per_step: m((s) => s.wireBytesIn),
    coordinator_wire_bytes_out_per_step: m((s) => s.wireBytesOut),
    step_overhead_s: overhead,
    overhead_ratio: overhead / (stepMs / 1000),
    broadcast_s: m((s) => s.broadcastS),
    gather_beyond_step_s: m((s) => s.gatherBeyondStepS),
    reduce_and_update_s: m((s) => s.reduceAndUpdateS),
    coordinator_thread_busy: r.coordinatorThreadBusy,
    cluster_thread_busy: r.clusterThreadBusy,
    process_cpu_s_per_step: r.processCpuSPerStep,
    coordinator_thread_cpu_s_per_step: r.coordinatorThreadCpuSPerStep,
  };
}

/** bench/comm_overhead.js for 8 workers in `groups` groups, in its own process; its JSON line. */
function realRun(groups: number, steps: number, stepMs: number): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [COMM_OVERHEAD, '--workers', '8', '--groups', String(groups), '--ranks', '4', '--steps', String(steps), '--delay-ms', String(stepMs), '--no-floor'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop()!) as Record<string, unknown>) : reject(new Error(`comm_overhead exited ${code}`))));
  });
}

async function check(stepMs: number, steps: number, shaped: SimLinks): Promise<void> {
  const shapes = shapesOf(4, 0);
  for (const groups of [8, 2, 1]) {
    const real = await realRun(groups, steps, stepMs);
    const mode: SimMode = groups < 8 ? 'aggregators' : 'direct';
    const spec = (links: SimLinks): SimSpec => ({ hosts: groups, gpusPerHost: 8 / groups, mode, shapes, stepMs, links, lean: false });
    const plain = summary(await simulate(spec({ ...shaped, gbps: null }), { steps, adam: false }), stepMs);
    const linked = summary(await simulate(spec(shaped), { steps, adam: false }), stepMs);
    const line = {
      bench: 'link_sim',
      kind: 'check',
      workers: 8,
      groups,
      rank: 4,
      decoder_params: 0,
      step_ms: stepMs,
      steps,
      bytes_match: real.coordinator_bytes_in_per_step === plain.coordinator_bytes_in_per_step && real.coordinator_bytes_out_per_step === plain.coordinator_bytes_out_per_step && plain.coordinator_bytes_in_per_step === linked.coordinator_bytes_in_per_step,
      real: { method: 'bench/comm_overhead.js: separate worker (and aggregator) processes, plain loopback', coordinator_bytes_in_per_step: real.coordinator_bytes_in_per_step, coordinator_bytes_out_per_step: real.coordinator_bytes_out_per_step, step_overhead_s: real.overhead_s, coordinator_cpu_s_per_step: real.coordinator_cpu_s_per_step },
      sim_plain_loopback: { method: 'simulation, one process, no proxies', ...plain },
      sim_shaped: { method: `simulation, one process, links ${shaped.gbps} Gb/s, ${shaped.latencyMs} ms`, ...linked },
    };
    process.stdout.write(`${JSON.stringify(line)}\n`);
  }
}

async function scale(o: { stepMs: number; steps: number; links: SimLinks; rank: number; decoderParams: number; clusters: [number, number][]; maxDirect: number; dilation: number }): Promise<void> {
  const shapes = shapesOf(o.rank, o.decoderParams);
  const run = async (hosts: number, gpus: number, mode: SimMode, lean: boolean): Promise<Record<string, number | null>> =>
    summary(await simulate({ hosts, gpusPerHost: gpus, mode, shapes, stepMs: o.stepMs, links: o.links, lean }, { steps: o.steps, adam: true }), o.stepMs);
  // The same coordinator level with every tensor and every bandwidth divided by --dilation: the
  // links take as long as at full size, the CPU (the coordinator's and this simulation's own) a
  // dilation-th. Its overhead less its coordinator's CPU is the links' part of the step; adding the
  // full-size coordinator CPU gives the estimate for a cluster with this host's CPU speed.
  const elements = shapes.reduce((a, [, s]) => a + s.reduce((x, y) => x * y, 1), 0);
  const dilated = async (hosts: number, gpus: number, mode: SimMode, full: Record<string, number | null>): Promise<Record<string, number | null>> => {
    const d = o.dilation;
    const links = { ...o.links, gbps: o.links.gbps === null ? null : o.links.gbps / d, loopbackGbps: o.links.loopbackGbps / d };
    const r = summary(await simulate({ hosts, gpusPerHost: gpus, mode, shapes: [['dilated', [Math.ceil(elements / d)]]], stepMs: o.stepMs, links, lean: true }, { steps: o.steps, adam: true }), o.stepMs);
    const linksPart = r.step_overhead_s! - r.coordinator_thread_cpu_s_per_step!;
    return { dilation: d, dilated_step_overhead_s: r.step_overhead_s, dilated_coordinator_thread_cpu_s_per_step: r.coordinator_thread_cpu_s_per_step, dilated_cluster_thread_busy: r.cluster_thread_busy, links_part_s: linksPart, estimate_s: linksPart + full.coordinator_thread_cpu_s_per_step! };
  };
  // The coordinator NIC's time for a step's bytes in one direction: arithmetic, the floor under any measurement.
  const linkS = (bytes: number | null): number => ((bytes ?? 0) * 8) / ((o.links.gbps ?? Number.POSITIVE_INFINITY) * 1e9);
  // A configuration's line: its coordinator level's bytes and CPU, the overhead of both levels together.
  const combined = (method: string, coordinator: Record<string, number | null>, overhead: number, levels: Record<string, unknown>): Record<string, unknown> => ({
    method,
    coordinator_bytes_in_per_step: coordinator.coordinator_bytes_in_per_step,
    coordinator_bytes_out_per_step: coordinator.coordinator_bytes_out_per_step,
    coordinator_link_s_each_way: linkS(coordinator.coordinator_bytes_in_per_step ?? null),
    coordinator_thread_cpu_s_per_step: coordinator.coordinator_thread_cpu_s_per_step,
    step_overhead_s: overhead,
    overhead_ratio: overhead / (o.stepMs / 1000),
    ...(Object.keys(levels).length ? { levels } : {}),
  });
  const common = { bench: 'link_sim', kind: 'scale', rank: o.rank, decoder_params: o.decoderParams, link_gbps: o.links.gbps, latency_ms: o.links.latencyMs, loopback_gbps: o.links.loopbackGbps, gpu_step_s: o.stepMs / 1000, steps: o.steps };
  // One endpoint's own work (a real worker client, direct) over its lean stand-in's.
  const ownReal = await run(1, 1, 'direct', false);
  const ownLean = await run(1, 1, 'direct', true);
  for (const gpus of [...new Set(o.clusters.map(([, g]) => g))]) {
    // Host groups: one host's own level (real aggregator, real worker clients), the coordinator's level for 1 host.
    const hostLevel = await run(1, gpus, 'aggregators', false);
    const coordinatorOne = await run(1, gpus, 'host_endpoints', true);
    // Direct: measured where the endpoints are few enough, extrapolated on the line through the two largest measured.
    const direct: { endpoints: number; r: Record<string, number | null> }[] = [{ endpoints: gpus, r: await run(1, gpus, 'direct', true) }];
    for (const [hosts] of o.clusters.filter(([, g]) => g === gpus)) {
      const coordinatorLevel = hosts === 1 ? coordinatorOne : await run(hosts, gpus, 'host_endpoints', true);
      const groupedDilated = o.dilation > 1 ? await dilated(hosts, gpus, 'host_endpoints', coordinatorLevel) : {};
      process.stdout.write(
        `${JSON.stringify({
          ...common,
          hosts,
          gpus_per_host: gpus,
          grouped: true,
          ...combined(
            `measured: coordinator level (${hosts} lean host endpoints) + one host's level (its real aggregator and ${gpus} real worker clients, serialized on this host: an upper bound) - coordinator level of 1 host`,
            coordinatorLevel,
            coordinatorLevel.step_overhead_s! + hostLevel.step_overhead_s! - coordinatorOne.step_overhead_s!,
            { coordinator: coordinatorLevel, host: hostLevel, coordinator_one_host: coordinatorOne },
          ),
          coordinator_level_dilated: groupedDilated,
        })}\n`,
      );
      const endpoints = hosts * gpus;
      const own = ownReal.step_overhead_s! - ownLean.step_overhead_s!;
      let line: Record<string, unknown>;
      if (endpoints <= o.maxDirect) {
        const r = endpoints === gpus ? direct[0]!.r : await run(hosts, gpus, 'direct', true);
        if (endpoints !== gpus) direct.push({ endpoints, r });
        line = combined(
          `measured: coordinator level (${endpoints} lean worker endpoints on ${hosts} host NIC(s)) + one real worker client's own work (1 real - 1 lean endpoint)`,
          r,
          r.step_overhead_s! + own,
          { coordinator: r, one_real_worker: ownReal, one_lean_worker: ownLean },
        );
        if (o.dilation > 1) line.coordinator_level_dilated = await dilated(hosts, gpus, 'direct', r);
      } else {
        // The line through the two largest measured; with one, through it and zero (proportional).
        const [a, b] = direct.length >= 2 ? (direct.slice(-2) as [(typeof direct)[number], (typeof direct)[number]]) : [{ endpoints: 0, r: {} as Record<string, number | null> }, direct[0]!];
        const at = (k: string): number => (a.r[k] ?? 0) + ((b.r[k]! - (a.r[k] ?? 0)) * (endpoints - a.endpoints)) / (b.endpoints - a.endpoints);
        const r = { coordinator_bytes_in_per_step: Math.round(at('coordinator_bytes_in_per_step')), coordinator_bytes_out_per_step: Math.round(at('coordinator_bytes_out_per_step')), coordinator_thread_cpu_s_per_step: at('coordinator_thread_cpu_s_per_step') };
        line = combined(
          `extrapolated: coordinator level on the line through the measured ${a.endpoints} and ${b.endpoints} lean endpoints (--max-direct-endpoints ${o.maxDirect}) + one real worker client's own work`,
          r,
          at('step_overhead_s') + own,
          {},
        );
      }
      process.stdout.write(`${JSON.stringify({ ...common, hosts, gpus_per_host: gpus, grouped: false, ...line })}\n`);
    }
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      only: { type: 'string' },
      'check-steps': { type: 'string' },
      'scale-steps': { type: 'string' },
      'step-ms': { type: 'string' },
      gbps: { type: 'string' },
      'latency-ms': { type: 'string' },
      'loopback-gbps': { type: 'string' },
      rank: { type: 'string' },
      'decoder-params': { type: 'string' },
      clusters: { type: 'string' },
      'max-direct-endpoints': { type: 'string' },
      dilation: { type: 'string' },
    },
  });
  const num = (v: string | undefined, d: number, what: string): number => {
    const n = v === undefined ? d : Number(v);
    if (!(Number.isFinite(n) && n >= 0)) throw new Error(`--${what} ${v}: expected a number >= 0`);
    return n;
  };
  const stepMs = num(values['step-ms'], 300, 'step-ms');
  const links: SimLinks = { gbps: num(values.gbps, 25, 'gbps'), latencyMs: num(values['latency-ms'], 0.05, 'latency-ms'), loopbackGbps: num(values['loopback-gbps'], 20, 'loopback-gbps') };
  if (values.only !== undefined && values.only !== 'check' && values.only !== 'scale') throw new Error(`--only ${values.only}: expected check or scale`);
  if (values.only !== 'scale') await check(stepMs, num(values['check-steps'], 5, 'check-steps'), links);
  if (values.only === 'check') return;
  const clusters = (values.clusters ?? '8x8,64x8').split(',').map((c) => {
    const [h, g] = c.split('x').map(Number) as [number, number];
    if (!(Number.isInteger(h) && h >= 1 && Number.isInteger(g) && g >= 1)) throw new Error(`--clusters ${c}: expected HOSTSxGPUS, e.g. 64x8`);
    return [h, g] as [number, number];
  });
  await scale({ stepMs, steps: num(values['scale-steps'], 5, 'scale-steps'), links, rank: num(values.rank, 4, 'rank'), decoderParams: num(values['decoder-params'], 4_058_340, 'decoder-params'), clusters, maxDirect: num(values['max-direct-endpoints'], 64, 'max-direct-endpoints'), dilation: Math.max(1, num(values.dilation, 32, 'dilation')) });
}

main().catch((err: unknown) => {
  process.stderr.write(`link_sim: ${errorWithStack(err)}\n`);
  process.exitCode = 1;
});
