// Communication overhead of synchronous data parallel over gRPC: per step, the coordinator sends
// every worker the new LoRA weights and gathers every worker's gradients (ViT-B-sized LoRA: q/v of
// 12 blocks, dim 768) while the workers' compute is SIMULATED by a fixed delay. Overhead = step time
// minus the delay. Workers are in-process gRPC clients on loopback, so their encoding work shares
// this process's 2 cores with the coordinator's: a pessimistic setting.
//
// node dist/bench/comm_overhead.js [--workers 1,2,4,8] [--ranks 4,64,512] [--steps 3] [--delay-ms 1000]
// One JSON line per (workers, rank) on stdout.

import * as grpc from '@grpc/grpc-js';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { CoordinatorServer } from '../coordinator/grpc/coordinator_server.js';
import { reduceResults } from '../coordinator/reduce.js';
import { WorkerPool } from '../coordinator/worker_pool.js';
import { VARIANTS } from '../shared/sam/config.js';
import { defaultLoraSpec, loraLayout } from '../shared/sam/lora.js';
import { chunkBytesFor, DEFAULT_MAX_MESSAGE_BYTES } from '../shared/wire/limits.js';
import type * as pb from '../shared/wire/messages.js';
import { PROTOCOL_VERSION, loadWireProtos } from '../shared/wire/proto_loader.js';
import { writeAll } from '../shared/wire/stream_io.js';
import { TensorAssembler, iterateTensorChunks, tensorInfos } from '../shared/wire/tensor_codec.js';

const FINGERPRINT = { variant: 'bench', checkpoint_sha256: 'bench', lora_layout_hash: 'bench' };

/** A worker that answers each step after `delayMs` with gradients of the right shapes. */
function fakeWorker(address: string, delayMs: number, signal: AbortSignal): void {
  const protos = loadWireProtos();
  const client = new protos.coordinator.Client(address, grpc.credentials.createInsecure(), {
    'grpc.max_receive_message_length': DEFAULT_MAX_MESSAGE_BYTES,
    'grpc.max_send_message_length': DEFAULT_MAX_MESSAGE_BYTES,
  });
  client.Join({ protocol_version: PROTOCOL_VERSION, software_version: 'bench', capabilities: null } as unknown as pb.JoinRequest, (err, reply) => {
    if (err || !reply) throw err ?? new Error('no join reply');
    const call = client.Session();
    signal.addEventListener('abort', () => call.cancel(), { once: true });
    call.on('error', () => client.close());
    let shapes: pb.TensorInfo[] = [];
    let assembler: TensorAssembler | undefined;
    let grads: Map<string, { shape: number[]; data: Float32Array }> | undefined;
    let queue = Promise.resolve();
    call.write({ hello: { worker_id: reply.worker_id, loaded: FINGERPRINT } });
    call.on('data', (m: pb.CoordinatorMessage) => {
      queue = queue.then(async () => {
        if (m.kind === 'weights') {
          shapes = m.weights.tensors;
          assembler = new TensorAssembler({ expected: new Map(shapes.map((t) => [t.name, t.shape])) });
          grads ??= new Map(shapes.map((t) => [t.name, { shape: t.shape, data: Float32Array.from({ length: t.shape.reduce((a, b) => a * b, 1) }, () => Math.random() - 0.5) }]));
        } else if (m.kind === 'tensor') {
          assembler!.push(m.tensor);
        } else if (m.kind === 'step') {
          await new Promise((r) => setTimeout(r, delayMs));
          const header: pb.StepResultHeader = { step: m.step.step, weight_sum: 1, loss_sum: 1, samples: [], failed: [], compute_seconds: delayMs / 1000, grads: tensorInfos(grads!), weights_hash: '' };
          await writeAll(call, [{ step_result: header }, ...[...iterateTensorChunks(grads!, { encoding: 'fp32', maxChunkBytes: chunkBytesFor() })].map((c) => ({ tensor: c }))]);
        }
      });
    });
  });
}

async function measure(workers: number, rank: number, steps: number, delayMs: number): Promise<Record<string, unknown>> {
  const layout = loraLayout(VARIANTS.vit_b, defaultLoraSpec(VARIANTS.vit_b, rank));
  const trainable = new Map(layout.map((l) => [l.key, l.shape as readonly number[]]));
  const params = new Map(layout.map((l) => [l.key, new Float32Array(l.shape[0] * l.shape[1])]));
  const elements = [...params.values()].reduce((a, p) => a + p.length, 0);
  const pool = new WorkerPool(workers);
  const server = await CoordinatorServer.start({ listen: '127.0.0.1:0', pool, runId: 'bench', configYaml: '', fingerprint: FINGERPRINT, trainable, deadlineMs: 600_000 });
  const stop = new AbortController();
  for (let i = 0; i < workers; i++) fakeWorker(server.address, delayMs, stop.signal);
  try {
    await pool.ready();
    const times: number[] = [];
    for (let step = 0; step <= steps; step++) {
      const t0 = performance.now();
      await pool.sync(step, params);
      const results = await Promise.all(pool.live().map((w) => w.trainStep({ epoch: 0, step, weightsVersion: step, samples: [] })));
      reduceResults(results, trainable);
      if (step > 0) times.push((performance.now() - t0) / 1000); // step 0 warms up
    }
    times.sort((a, b) => a - b);
    const stepS = times[Math.floor(times.length / 2)]!;
    const overhead = stepS - delayMs / 1000;
    return {
      bench: 'comm_overhead',
      compute: `simulated: fixed ${delayMs} ms delay per worker`,
      workers,
      rank,
      lora_elements: elements,
      bytes_per_step: 2 * workers * elements * 4,
      median_step_s: stepS,
      overhead_s: overhead,
      overhead_ratio: overhead / stepS,
    };
  } finally {
    stop.abort();
    await server.stop();
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { workers: { type: 'string' }, ranks: { type: 'string' }, steps: { type: 'string' }, 'delay-ms': { type: 'string' } } });
  const list = (v: string | undefined, d: number[]): number[] => (v ? v.split(',').map(Number) : d);
  for (const rank of list(values.ranks, [4, 64, 512])) {
    for (const workers of list(values.workers, [1, 2, 4, 8])) {
      const r = await measure(workers, rank, Number(values.steps ?? 3), Number(values['delay-ms'] ?? 1000));
      process.stdout.write(`${JSON.stringify(r)}\n`);
    }
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`comm_overhead: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
