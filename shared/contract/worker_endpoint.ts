// The contract between the coordinator and a worker. The in-process worker (worker/local_worker.ts)
// implements it directly; the distributed one implements it over gRPC. One training loop drives both.

import type { SampleBytes } from '../data/dataset.js';

/** One sample of a step or an evaluation: by id (the worker reads its dataset) or with its bytes. */
export interface SampleTask {
  id: string;
  bytes?: SampleBytes;
}

export interface StepWork {
  epoch: number;
  step: number;
  /** Which weights the worker must hold (setWeights) for this step. */
  weightsVersion: number;
  samples: SampleTask[];
  /**
   * fp16 runs (runtime.precision): the factor the worker's graph multiplies the loss by before
   * differentiating (dynamic loss scaling); its gradients come back multiplied by it. Absent in
   * fp32 runs. A worker refuses a step whose scale does not fit its graph (checkLossScale).
   */
  lossScale?: number;
}

export interface SampleOutcome {
  id: string;
  /** Mean loss over the sample's objects (NaN when it had no object). */
  loss: number;
  /** Sum of its objects' weights (0 for an image without objects). */
  weight: number;
}

export interface StepResult {
  step: number;
  /** Gradient of sum_i w_i loss_i over the worker's samples, per trainable tensor. */
  /** (A transport may reuse these arrays for the same worker's next step: reduce them before that.) */
  grads: Map<string, Float32Array>;
  weightSum: number;
  lossSum: number;
  samples: SampleOutcome[];
  /** Samples the worker could not load (bad files): id and reason. */
  failed: { id: string; reason: string }[];
  computeSeconds: number;
  /** Peak resident memory of the worker's process so far (host RSS, bytes), when known. */
  peakRssBytes?: number;
  /** weightsHash() of the weights the worker used; the coordinator refuses a result that differs. */
  weightsHash?: string;
  /**
   * fp16 runs only: the worker's scaled gradients held an Inf or NaN (the loss scale was too large
   * for fp16). Not a failure of the worker: the coordinator skips the step for every worker and
   * halves the scale. `grads` is then empty and the losses may be non-finite. A step without a
   * loss scale must not report it (a remote worker that does is refused as malformed).
   */
  overflow?: boolean;
  /** How many workers computed it (an aggregator's group); absent: one. */
  workers?: number;
}

export interface EvalWork {
  weightsVersion: number;
  samples: SampleTask[];
}

export interface EvalScore {
  id: string;
  dice: number;
  iou: number;
  objects: number;
}

export interface EvalResult {
  scores: EvalScore[];
  failed: { id: string; reason: string }[];
}

/** Where a worker runs, for dashboards and logs. */
export interface WorkerPlacement {
  host: string;
  /** "cpu", or "cuda:N". */
  device: string;
  /** Host group: the coordinator adds one group's gradients first (coordinator/group_fold.ts). */
  group?: string;
}

/**
 * A task that cannot be handed to any worker (e.g. a sample larger than a message): not the
 * worker's fault, so it is not evicted, and retrying elsewhere cannot help; the run fails with it.
 */
export class UndeliverableTaskError extends Error {
  override readonly name = 'UndeliverableTaskError';
}

export interface WorkerEndpoint {
  readonly id: string;
  readonly placement?: WorkerPlacement;
  /** How many workers it carries (an aggregator: its group, as its last result said); absent: one. */
  readonly workers?: number;
  /** Installs a new version of the trainable weights. */
  setWeights(version: number, params: ReadonlyMap<string, Float32Array>): Promise<void>;
  trainStep(work: StepWork): Promise<StepResult>;
  /** Split is 'test' unless given. */
  evaluate(work: EvalWork, split?: 'train' | 'test'): Promise<EvalResult>;
  /** Lets the worker go; `reason` says why when the coordinator evicts it (a remote worker is told). */
  close(reason?: string): Promise<void>;
}
