// What a worker session computes with, behind the gRPC session (grpc_worker.ts): by default the
// run's model in a compute thread (model_compute.ts); an aggregator plugs in its host group instead
// (aggregator/group_compute.ts), so both speak the same worker side of the protocol.

import type * as pb from '../shared/wire/messages.js';
import type { EvalResult, EvalWork, StepResult, StepWork } from '../shared/contract/worker_endpoint.js';
import type { WorkerLogLevel } from './grpc_worker.js';

export interface SessionCompute {
  /** Installs weights decoded for this version only (the arrays may be kept as they are). */
  adoptWeights(version: number, params: ReadonlyMap<string, Float32Array>, shapes: ReadonlyMap<string, readonly number[]>): Promise<void>;
  setWeights(version: number, params: ReadonlyMap<string, Float32Array>): Promise<void>;
  trainStep(work: StepWork): Promise<StepResult>;
  evaluate(work: EvalWork, split: 'train' | 'test'): Promise<EvalResult>;
}

/** Workers behind a session whose number changes (an aggregator's group), told to the coordinator as GroupSize. */
export interface GroupSizeSource {
  /** How many are free to take a share now. */
  readonly size: number;
  /** Calls `changed` whenever `size` may have changed; returns what stops that. */
  watch(changed: () => void): () => void;
}

/** What a session needs once the coordinator answered Join. */
export interface PreparedCompute {
  /** The model fingerprint this side presents in Hello. */
  loaded: pb.ModelFingerprint;
  /** Starts (or reuses) the compute once the coordinator welcomed this session. */
  start(): Promise<SessionCompute>;
  /** The workers behind this session (an aggregator); absent: the session is one worker. */
  groupSize?: GroupSizeSource;
  /**
   * prepare waited for something other than the coordinator (an aggregator for a worker): the
   * coordinator may have restarted meanwhile and no longer know the worker id, so the worker joins
   * again (a fresh id) before its Hello.
   */
  joinAgain?: boolean;
}

export interface ComputeProvider {
  /** Capabilities.device in Join ("cpu", "cuda", "aggregator"). */
  readonly device: string;
  /** Called after every Join: may wait (an aggregator waits for its first worker; see PreparedCompute.joinAgain). */
  prepare(reply: pb.JoinReply, address: string, log: (line: string, level?: WorkerLogLevel) => void, signal?: AbortSignal): Promise<PreparedCompute>;
  /** Releases what the provider kept between sessions. */
  close(): Promise<void>;
}
