// A stand-in GPU for the real worker client (worker/grpc_worker.ts runRemoteWorker) in the link
// simulation: each step waits the simulated GPU step time and returns a precomputed gradient of the
// real size. The gradient arrays are shared by every stand-in of the process (read only: the client
// encodes from them), so 64 of them cost one gradient's memory. Each reports the hash of the weights
// it received, as a real worker does (its aggregator checks it); the stand-ins of one simulation
// share one hash per version (`hashes`): on a cluster every worker hashes its copy at the same time
// on its own cores, so one hash is what the step waits for, and the copies are equal (the same bytes
// came down the wire to each).

import { weightsHash } from '../shared/tensor/weights_hash.js';
import type { EvalResult, StepResult, StepWork } from '../shared/contract/worker_endpoint.js';
import type * as pb from '../shared/wire/messages.js';
import type { ComputeProvider, PreparedCompute, SessionCompute } from '../worker/session_compute.js';

export interface StandInOptions {
  /** Simulated GPU time of one step, in ms. */
  stepMs: number;
  /** The gradient every step returns (shared, never written). */
  grads: ReadonlyMap<string, Float32Array>;
  /** Workers this endpoint stands for (a host's aggregator: its GPUs); default one. */
  workers?: number;
  /** Weights hash by version, shared by the simulation's stand-ins. */
  hashes: Map<number, string>;
}

export class StandInCompute implements ComputeProvider, SessionCompute {
  readonly device = 'cuda';
  private hash = '';

  constructor(private readonly o: StandInOptions) {}

  prepare(reply: pb.JoinReply): Promise<PreparedCompute> {
    const loaded = reply.fingerprint;
    if (!loaded) return Promise.reject(new Error('the coordinator sent no model fingerprint'));
    return Promise.resolve({ loaded, start: () => Promise.resolve(this) });
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  adoptWeights(version: number, params: ReadonlyMap<string, Float32Array>): Promise<void> {
    const known = this.o.hashes.get(version);
    this.hash = known ?? weightsHash(params);
    if (known === undefined) {
      this.o.hashes.set(version, this.hash);
      this.o.hashes.delete(version - 2);
    }
    return Promise.resolve();
  }

  setWeights(version: number, params: ReadonlyMap<string, Float32Array>): Promise<void> {
    return this.adoptWeights(version, params);
  }

  async trainStep(work: StepWork): Promise<StepResult> {
    await new Promise((resolve) => setTimeout(resolve, this.o.stepMs));
    const n = work.samples.length;
    return {
      step: work.step,
      grads: new Map(this.o.grads),
      weightSum: n,
      lossSum: n,
      samples: work.samples.map((s) => ({ id: s.id, loss: 1, weight: 1 })),
      failed: [],
      computeSeconds: this.o.stepMs / 1000,
      weightsHash: this.hash,
      ...(this.o.workers !== undefined && this.o.workers > 1 ? { workers: this.o.workers } : {}),
    };
  }

  evaluate(): Promise<EvalResult> {
    return Promise.reject(new Error('the link simulation does not evaluate'));
  }
}
