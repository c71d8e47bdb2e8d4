// A model of a step's communication overhead at cluster scale, with and without host groups. Not a
// network simulation: the per-process costs are TIMED here by running the real code paths in this
// process on tensors of the real size (the weights' encoding, a gradient's encoding and decoding as
// the gRPC server receives it, the aggregator's fold, the coordinator's reduction, Adam), and the
// links are modelled by bandwidth and latency. A step's overhead is then the critical path, with no
// overlap assumed between phases (pessimistic):
//
//   down: encode weights once, send them to E endpoints over the coordinator's link (E x bytes / B + L),
//         [an aggregator decodes them, encodes them once, sends them to its W workers over loopback],
//         the worker decodes them
//   up:   the worker encodes its gradient, [sends it over loopback; the aggregator decodes W of them,
//         folds them, encodes one sum], it crosses the link (E x bytes / B at the coordinator + L),
//         the coordinator decodes E, reduces E and runs Adam
//
// E is the number of GPUs without groups, the number of hosts with them. The costs come from this
// (shared, 2-core) machine, so they are upper bounds for a cluster's processes. The check against a
// real run: the model's coordinator CPU per step for 8 workers on this host (groups 8, 2, 1) next to
// what bench/comm_overhead.ts measured (pass --measured-cpu 8:0.049,2:0.010,1:0.0065 to print both).
//
// node dist/bench/scale_model.js [--rank 4] [--decoder-params 4058340] [--gbps 25] [--latency-ms 0.05]
//   [--loopback-gbps 20] [--gpu-step-s 0.3] [--clusters 8x8,64x8] [--measured-cpu G:S,...]
// One JSON line per (cluster, grouped) on stdout, after one line of calibrated costs.

import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { foldResults } from '../coordinator/group_fold.js';
import { Adam } from '../coordinator/optimizer/adam.js';
import { reduceResults } from '../coordinator/reduce.js';
import { WeightsBroadcast } from '../coordinator/grpc/weights_broadcast.js';
import type { StepResult } from '../shared/contract/worker_endpoint.js';
import { errorWithStack } from '../shared/errors/error_message.js';
import { VARIANTS } from '../shared/sam/config.js';
import { defaultLoraSpec, loraLayout } from '../shared/sam/lora.js';
import { tensorChunkBytes, DEFAULT_MAX_MESSAGE_BYTES } from '../shared/wire/limits.js';
import type { WorkerMessage } from '../shared/wire/messages.js';
import { packedTensorMessages } from '../shared/wire/packed_tensors.js';
import { loadWireProtos } from '../shared/wire/proto_loader.js';
import { tensorInfos } from '../shared/wire/tensor_codec.js';
import { TensorReceiver } from '../shared/wire/tensor_receiver.js';

/** Median seconds of `f` over `n` runs after one warm-up. */
function timed(n: number, f: () => void): number {
  f();
  const t: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    f();
    t.push((performance.now() - t0) / 1000);
  }
  t.sort((a, b) => a - b);
  return t[Math.floor(t.length / 2)]!;
}

interface Costs {
  elements: number;
  bytes: number;
  /** Encoding one weights version (header + packed messages + hash), once per version and process. */
  encodeWeights: number;
  /** Encoding one gradient (or one sum) as a worker sends it. */
  encodeGradient: number;
  /** Decoding one tensor sequence as the gRPC server does (protobuf parse + TensorReceiver with checks). */
  decode: number;
  /** Folding (per result) and reducing (per result), per added result. */
  foldPerResult: number;
  reducePerResult: number;
  adam: number;
}

function calibrate(rank: number, decoderParams: number, reps: number): Costs {
  const layout = loraLayout(VARIANTS.vit_b, defaultLoraSpec(VARIANTS.vit_b, rank));
  const shapes = new Map<string, readonly number[]>(layout.map((l) => [l.key, l.shape as readonly number[]]));
  if (decoderParams > 0) shapes.set('mask_decoder', [decoderParams]);
  const values = (seed: number): Map<string, Float32Array> =>
    new Map([...shapes].map(([k, s]) => [k, Float32Array.from({ length: s.reduce((a, b) => a * b, 1) }, (_, i) => Math.fround(Math.sin(i * 0.37 + seed) * 1e-3))]));
  const params = values(0);
  const elements = [...params.values()].reduce((a, v) => a + v.length, 0);
  const protos = loadWireProtos();
  const chunkBytes = tensorChunkBytes(DEFAULT_MAX_MESSAGE_BYTES);
  const broadcast = new WeightsBroadcast({ trainable: shapes, encoding: 'fp32', chunkBytes, encode: (m) => protos.encodeCoordinatorMessage(m) });
  let version = 0;
  const encodeWeights = timed(reps, () => void broadcast.encoded(++version, params));
  const grads = new Map([...values(1)].map(([k, v]) => [k, { shape: [...shapes.get(k)!], data: v }]));
  let encoded: Buffer[] = [];
  const encodeGradient = timed(reps, () => {
    encoded = [...packedTensorMessages(grads, { encoding: 'fp32', maxChunkBytes: chunkBytes, envelope: 'worker_message' })].map((m) => m.bytes);
  });
  const deserialize = protos.coordinator.definition.Session.requestDeserialize as (b: Buffer) => WorkerMessage;
  const infos = tensorInfos(grads);
  const targets = new Map([...shapes].map(([k, s]) => [k, new Float32Array(s.reduce((a, b) => a * b, 1))]));
  const decode = timed(reps, () => {
    const r = new TensorReceiver(infos, { expected: shapes, rejectNonFinite: true, targets });
    for (const b of encoded) {
      const m = deserialize(b);
      if (m.kind === 'packed' || m.kind === 'tensor') r.push(m);
    }
    if (!r.complete) throw new Error('scale model: the decoded gradient is incomplete');
  });
  const result = (seed: number): StepResult => ({ step: 0, grads: values(seed), weightSum: 1, lossSum: 1, samples: [{ id: `s${seed}`, loss: 1, weight: 1 }], failed: [], computeSeconds: 1 });
  const results = [result(2), result(3), result(4), result(5)];
  const foldPerResult = timed(reps, () => void foldResults(results)) / results.length;
  let into: Map<string, Float32Array> | undefined;
  const reducePerResult = timed(reps, () => (into = reduceResults(results, shapes, into).grads)) / results.length;
  const adam = new Adam({ lr: 1e-4 });
  const g = values(6);
  const adamS = timed(reps, () => void adam.step(params, g, 1e-4));
  return { elements, bytes: elements * 4, encodeWeights, encodeGradient, decode, foldPerResult, reducePerResult, adam: adamS };
}

interface Link {
  bytesPerSecond: number;
  latencyS: number;
  loopbackBytesPerSecond: number;
}

/** The step's overhead (seconds) and where it goes, for `hosts` x `gpus` workers, with or without an aggregator per host. */
function overhead(c: Costs, hosts: number, gpus: number, grouped: boolean, link: Link): Record<string, number> {
  const endpoints = grouped ? hosts : hosts * gpus;
  const wire = (n: number): number => (n * c.bytes) / link.bytesPerSecond + link.latencyS;
  const loop = (n: number): number => (n * c.bytes) / link.loopbackBytesPerSecond;
  const down = c.encodeWeights + wire(endpoints) + (grouped ? c.decode + c.encodeWeights + loop(gpus) : 0) + c.decode;
  const up = c.encodeGradient + (grouped ? loop(gpus) + gpus * c.decode + gpus * c.foldPerResult + c.encodeGradient : 0) + wire(endpoints);
  const coordinatorCpu = c.encodeWeights + endpoints * c.decode + endpoints * c.reducePerResult + c.adam;
  const reduce = endpoints * c.decode + endpoints * c.reducePerResult + c.adam;
  return {
    coordinator_bytes_in_per_step: endpoints * c.bytes,
    coordinator_link_s: wire(endpoints),
    coordinator_cpu_s: coordinatorCpu,
    down_s: down,
    up_s: up,
    reduce_and_update_s: reduce,
    overhead_s: down + up + reduce,
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rank: { type: 'string' },
      'decoder-params': { type: 'string' },
      gbps: { type: 'string' },
      'latency-ms': { type: 'string' },
      'loopback-gbps': { type: 'string' },
      'gpu-step-s': { type: 'string' },
      clusters: { type: 'string' },
      reps: { type: 'string' },
      'measured-cpu': { type: 'string' },
    },
  });
  const num = (v: string | undefined, d: number, what: string): number => {
    const n = v === undefined ? d : Number(v);
    if (!(Number.isFinite(n) && n >= 0)) throw new Error(`--${what} ${v}: expected a number >= 0`);
    return n;
  };
  const rank = num(values.rank, 4, 'rank');
  const decoderParams = num(values['decoder-params'], 4_058_340, 'decoder-params');
  const gpuStep = num(values['gpu-step-s'], 0.3, 'gpu-step-s');
  const link: Link = {
    bytesPerSecond: (num(values.gbps, 25, 'gbps') * 1e9) / 8,
    latencyS: num(values['latency-ms'], 0.05, 'latency-ms') / 1000,
    loopbackBytesPerSecond: (num(values['loopback-gbps'], 20, 'loopback-gbps') * 1e9) / 8,
  };
  const costs = calibrate(rank, decoderParams, num(values.reps, 5, 'reps'));
  process.stdout.write(`${JSON.stringify({ bench: 'scale_model', kind: 'calibration', timed_here: 'real code paths in this process, median of --reps', rank, decoder_params: decoderParams, ...costs })}\n`);
  // The check against bench/comm_overhead.ts: 8 workers on this host, rank 4 without the decoder.
  if (values['measured-cpu']) {
    const small = calibrate(4, 0, num(values.reps, 5, 'reps'));
    for (const pair of values['measured-cpu'].split(',')) {
      const [g, s] = pair.split(':').map(Number) as [number, number];
      const m = overhead(small, g, 8 / g, g < 8, link);
      process.stdout.write(`${JSON.stringify({ bench: 'scale_model', kind: 'check', workers: 8, groups: g, rank: 4, decoder_params: 0, model_coordinator_cpu_s: m.coordinator_cpu_s, measured_coordinator_cpu_s: s })}\n`);
    }
  }
  for (const cluster of (values.clusters ?? '8x8,64x8').split(',')) {
    const [hosts, gpus] = cluster.split('x').map(Number) as [number, number];
    if (!(hosts >= 1 && gpus >= 1)) throw new Error(`--clusters ${cluster}: expected HOSTSxGPUS, e.g. 64x8`);
    for (const grouped of [false, true]) {
      const o = overhead(costs, hosts, gpus, grouped, link);
      process.stdout.write(
        `${JSON.stringify({ bench: 'scale_model', kind: 'model', hosts, gpus_per_host: gpus, grouped, rank, decoder_params: decoderParams, link_gbps: (link.bytesPerSecond * 8) / 1e9, latency_ms: link.latencyS * 1000, gpu_step_s: gpuStep, ...o, overhead_ratio: o.overhead_s! / gpuStep })}\n`,
      );
    }
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`scale_model: ${errorWithStack(err)}\n`);
  process.exitCode = 1;
});
