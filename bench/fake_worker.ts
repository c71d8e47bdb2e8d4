// A stand-in worker process for bench/comm_overhead.ts: joins the coordinator, decodes every weights
// version like a real worker, and answers each step after a fixed delay (SIMULATED compute) with
// gradients of the announced shapes, encoded like a real worker's (packed_tensors.ts). Reports its
// CPU time on exit (in all, and per step cycle), so the benchmark can say where the cycles went.
//
// node dist/bench/fake_worker.js ADDRESS DELAY_MS

import * as grpc from '@grpc/grpc-js';
import { pathToFileURL } from 'node:url';
import { clientFlowControlOptions } from '../shared/wire/flow_control.js';
import { channelLimitOptions, tensorChunkBytes } from '../shared/wire/limits.js';
import type * as pb from '../shared/wire/messages.js';
import { PROTOCOL_VERSION, loadWireProtos } from '../shared/wire/proto_loader.js';
import { writeAll } from '../shared/wire/stream_io.js';
import { packedTensorMessages } from '../shared/wire/packed_tensors.js';
import type { PreEncodedMessage } from '../shared/wire/pre_encoded.js';
import { fromWireEncoding, tensorInfos } from '../shared/wire/tensor_codec.js';
import { TensorReceiver } from '../shared/wire/tensor_receiver.js';
import { versionHash } from '../shared/tensor/weights_hash.js';

export const BENCH_FINGERPRINT = { variant: 'bench', checkpoint_sha256: 'bench', lora_layout_hash: 'bench' };

function run(address: string, delayMs: number): void {
  const protos = loadWireProtos();
  const client = new protos.coordinator.Client(address, grpc.credentials.createInsecure(), { ...channelLimitOptions(), ...clientFlowControlOptions() });
  const joinRequest: pb.JoinRequest = { protocol_version: PROTOCOL_VERSION, software_version: 'bench', capabilities: { device: 'cpu', gpu_index: -1, threads: 1, hostname: 'bench', cuda_available: false } };
  client.Join(joinRequest, (err, reply) => {
    if (err || !reply) {
      process.stderr.write(`fake worker: join failed: ${err?.message ?? 'no reply'}\n`);
      process.exit(1);
    }
    const encoding = fromWireEncoding(reply.tensor_encoding) ?? 'fp32';
    const call = client.Session();
    call.on('error', () => undefined);
    // CPU seconds at each step assignment: the differences are the CPU of one step's cycle
    // (weights in, gradients out), without start-up.
    const cpuAtStep: number[] = [];
    const cpuNow = (): number => {
      const c = process.cpuUsage();
      return (c.user + c.system) / 1e6;
    };
    call.on('end', () => {
      const cycles = cpuAtStep.slice(1).map((c, i) => c - cpuAtStep[i]!);
      process.stdout.write(`${JSON.stringify({ cpu_s: cpuNow(), step_cycle_cpu_s: cycles })}\n`);
      process.exit(0);
    });
    let receiver: TensorReceiver | undefined;
    let weights: Map<string, Float32Array> | undefined;
    // The hash of the weights held, as a real worker reports it (an aggregator checks it).
    let version = -1;
    let hash = '';
    let grads: Map<string, { shape: number[]; data: Float32Array }> | undefined;
    let queue = Promise.resolve();
    call.write({ hello: { worker_id: reply.worker_id, loaded: BENCH_FINGERPRINT } });
    let beats = 0;
    if (reply.heartbeat_interval_ms > 0) setInterval(() => call.write({ heartbeat: { unix_millis: Date.now(), sequence: ++beats } }), reply.heartbeat_interval_ms).unref();
    call.on('data', (m: pb.CoordinatorMessage) => {
      queue = queue.then(async () => {
        if (m.kind === 'weights') {
          const shapes = m.weights.tensors;
          weights ??= new Map(shapes.map((t) => [t.name, new Float32Array(t.shape.reduce((a, b) => a * b, 1))]));
          receiver = new TensorReceiver(shapes, { targets: weights });
          version = Number(m.weights.version);
          grads ??= new Map(shapes.map((t) => [t.name, { shape: t.shape, data: Float32Array.from({ length: t.shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i) * 1e-3) }]));
        } else if (m.kind === 'tensor' || m.kind === 'packed') {
          receiver!.push(m);
          if (receiver!.complete) hash = versionHash(weights!, version);
        } else if (m.kind === 'step') {
          cpuAtStep.push(cpuNow());
          await new Promise((r) => setTimeout(r, delayMs));
          // An honest account of the samples given (the coordinator checks it), each of weight 1.
          const samples = m.step.samples.map((x) => ({ id: x.id, loss: 1, weight: 1 }));
          const header: pb.StepResultHeader = { step: m.step.step, weight_sum: samples.length, loss_sum: samples.length, samples, failed: [], compute_seconds: delayMs / 1000, grads: tensorInfos(grads!), weights_hash: hash, peak_rss_bytes: 0, overflow: false };
          const chunks = packedTensorMessages(grads!, { encoding, maxChunkBytes: tensorChunkBytes(reply.max_message_bytes), envelope: 'worker_message' });
          await writeAll<pb.WorkerMessageOut | PreEncodedMessage>(call, [{ step_result: header }, ...chunks]);
        }
      });
    });
  });
}

// Run only as a script: comm_overhead.ts imports BENCH_FINGERPRINT from here.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [address, delay] = process.argv.slice(2);
  if (!address || delay === undefined) {
    process.stderr.write('usage: node dist/bench/fake_worker.js ADDRESS DELAY_MS\n');
    process.exit(2);
  }
  run(address, Number(delay));
}
