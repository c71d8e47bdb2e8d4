// A lean stand-in endpoint for the coordinator's level of the link simulation: the worker side of
// the protocol reduced to what the coordinator sees (Join, Session, Hello, heartbeats, and per step
// one result header and one gradient or partial sum of the real size), with nothing of a host's own
// work: it does not decode the weights (they are read off the wire and dropped: the step message
// comes after them on the stream, so it still answers only once they have arrived) and it sends one
// gradient encoded once and shared by every lean endpoint of the thread. A host's own work (its
// aggregator's or its worker's decoding, hashing, folding, encoding) is measured apart, for one host,
// with the real code (bench/link_sim.ts). It reports no weights hash, so none is checked.

import * as grpc from '@grpc/grpc-js';
import { clientFlowControlOptions } from '../shared/wire/flow_control.js';
import { channelLimitOptions, negotiateMaxMessageBytes, tensorChunkBytes } from '../shared/wire/limits.js';
import type * as pb from '../shared/wire/messages.js';
import { packedTensorMessages } from '../shared/wire/packed_tensors.js';
import type { PreEncodedMessage } from '../shared/wire/pre_encoded.js';
import { PROTOCOL_VERSION, loadWireProtos } from '../shared/wire/proto_loader.js';
import { writeAll } from '../shared/wire/stream_io.js';
import { tensorInfos } from '../shared/wire/tensor_codec.js';

export interface LeanEndpointOptions {
  address: string;
  group: string;
  stepMs: number;
  /** Workers it stands for (a host's aggregator: its GPUs); default one. */
  workers?: number;
  /** The gradient sent every step, and its encoding by chunk size (shared by the thread's endpoints). */
  gradient: SharedGradient;
}

/** One gradient, encoded once per chunk size for every endpoint that sends it. */
export class SharedGradient {
  private readonly encoded = new Map<number, PreEncodedMessage[]>();
  readonly infos: pb.TensorInfo[];

  private readonly tensors: Map<string, { shape: number[]; data: Float32Array }>;

  constructor(shapes: readonly [string, number[]][], grads: ReadonlyMap<string, Float32Array>) {
    this.tensors = new Map(shapes.map(([k, shape]) => [k, { shape, data: grads.get(k)! }]));
    this.infos = tensorInfos(this.tensors);
  }

  messages(chunkBytes: number): PreEncodedMessage[] {
    let m = this.encoded.get(chunkBytes);
    if (!m) {
      m = [...packedTensorMessages(this.tensors, { encoding: 'fp32', maxChunkBytes: chunkBytes, envelope: 'worker_message' })];
      this.encoded.set(chunkBytes, m);
    }
    return m;
  }
}

/** Joins, then answers every step after `stepMs` until the coordinator ends the session (resolves) or the join fails (rejects). */
export function runLeanEndpoint(o: LeanEndpointOptions): Promise<void> {
  const protos = loadWireProtos();
  const client = new protos.coordinator.Client(o.address, grpc.credentials.createInsecure(), { ...channelLimitOptions(), ...clientFlowControlOptions() });
  const join: pb.JoinRequest = { protocol_version: PROTOCOL_VERSION, software_version: 'link-sim', capabilities: { device: 'cuda', gpu_index: 0, threads: 0, hostname: 'sim', cuda_available: false, group: o.group } };
  return new Promise<void>((resolve, reject) => {
    client.Join(join, (err, reply) => {
      if (err || !reply) return reject(err ?? new Error('no reply to Join'));
      if (!reply.fingerprint) return reject(new Error('the coordinator sent no model fingerprint'));
      const chunks = o.gradient.messages(tensorChunkBytes(negotiateMaxMessageBytes(reply.max_message_bytes)));
      const call = client.Session();
      let beats = 0;
      const heartbeat = setInterval(() => call.write({ heartbeat: { unix_millis: Date.now(), sequence: ++beats } }), Math.max(100, reply.heartbeat_interval_ms || 2000));
      const finish = (): void => {
        clearInterval(heartbeat);
        client.close();
        resolve();
      };
      call.on('error', finish);
      call.on('end', finish);
      call.write({ hello: { worker_id: reply.worker_id, loaded: reply.fingerprint } });
      let queue = Promise.resolve();
      call.on('data', (m: pb.CoordinatorMessage) => {
        if (m.kind === 'stop') return call.end();
        if (m.kind !== 'step') return;
        const step = m.step;
        queue = queue.then(async () => {
          await new Promise((r) => setTimeout(r, o.stepMs));
          const n = step.samples.length;
          const header: pb.StepResultHeader = {
            step: step.step,
            weight_sum: n,
            loss_sum: n,
            samples: step.samples.map((s) => ({ id: s.id, loss: 1, weight: 1 })),
            failed: [],
            compute_seconds: o.stepMs / 1000,
            grads: o.gradient.infos,
            weights_hash: '',
            peak_rss_bytes: 0,
            overflow: false,
            ...(o.workers !== undefined && o.workers > 1 ? { workers: o.workers } : {}),
          };
          await writeAll<pb.WorkerMessageOut | PreEncodedMessage>(call, [{ step_result: header }, ...chunks]);
        });
      });
    });
  });
}
