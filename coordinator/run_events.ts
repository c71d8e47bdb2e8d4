// What happens during a run, as typed events: the one source the dashboard, the Prometheus metrics
// and the logs read from. The training loop, the worker pool and the gRPC server emit; observers
// subscribe. Emitting never throws into the training loop (a broken observer is reported once and
// dropped), so a dashboard bug cannot stop a run.

import { errorMessage } from '../shared/errors/error_message.js';

/** How many of a resumed run's past losses its run_started event carries (the dashboard's history). */
export const PAST_LOSSES = 240;

/** Static facts about the run, sent once before training starts. */
export interface RunInfo {
  runId: string;
  /** SAM variant, e.g. "vit_b". */
  variant: string;
  /** Base checkpoint path, or null for the bundled base model. */
  checkpoint: string | null;
  rank: number;
  /** Execution device of the run's config ("cpu" or "cuda"). */
  device: string;
  epochs: number;
  stepsPerEpoch: number;
  totalSteps: number;
  batchSize: number;
  /** Step the run starts from (after --resume), 0 otherwise. */
  startStep: number;
  /** Learning rate at the start step. */
  lr: number;
  /** The run directory (where the dashboard's log file goes). */
  runDir?: string;
}

/** Where one worker's part of a step went. */
export interface WorkerStepTiming {
  workerId: string;
  samples: number;
  /** Seconds the worker reports computing. */
  computeSeconds: number;
  /** Seconds from the step's start until this worker's result arrived. */
  answeredAfterSeconds: number;
  /** Loss of this worker's share (weighted mean), NaN when it had no weight. */
  loss: number;
  /** Peak resident memory of the worker's process so far (bytes), when it reports it. */
  peakRssBytes?: number;
}

export interface StepTiming {
  /** Whole step: assignment, compute, gather, reduction and optimizer; waiting for workers excluded. */
  stepSeconds: number;
  /** Time the step waited for workers (fewer live than min_workers); kept out of every rate and the ETA. */
  waitingSeconds?: number;
  /** Adding up the gradients plus the optimizer step. */
  reduceSeconds: number;
  /** Adding up the gradients alone (part of reduceSeconds), when measured. */
  gradientSumSeconds?: number;
  /** From the first worker's answer to the last one's: time spent waiting for the slowest. */
  waitForSlowestSeconds: number;
  workers: WorkerStepTiming[];
}

export type RunEvent =
  /**
   * `pastLosses`: the last PAST_LOSSES losses of a resumed run (from its checkpoint), so that a
   * dashboard's loss history continues across the resume; empty for a new run.
   */
  | { kind: 'run_started'; info: RunInfo; pastLosses?: readonly number[] }
  | {
      kind: 'step';
      step: number;
      /** Every `epoch` here counts from 1, as progress lines, summary.json and the logs do. */
      epoch: number;
      /** Samples trained in this step (failed samples excluded). */
      images: number;
      loss: number;
      lr: number;
      /** The optimizer skipped this step (non-finite loss or gradient, fp16 overflow, or no trainable sample). */
      skipped: boolean;
      /** fp16 runs: the dynamic loss scale after this step (the one the next step runs with). */
      lossScale?: number;
      /** fp16 runs: this step overflowed (skipped, the scale halved). */
      overflow?: boolean;
      timing: StepTiming;
    }
  /** The epoch just finished (from 1). */
  | { kind: 'epoch_done'; epoch: number }
  /** `epoch`: the epoch of the last step trained (from 1; 0 before training). */
  | { kind: 'eval'; step: number; epoch: number; dice: number; iou: number; best: boolean; phase: 'before' | 'during' | 'after' }
  | { kind: 'checkpoint'; step: number; dir: string; name: string }
  | { kind: 'worker_joined'; id: string; host: string; device: string }
  | { kind: 'worker_evicted'; id: string; reason: string }
  /** The workers behind a member changed: an aggregator's group (from 0; a plain worker is 1). */
  | { kind: 'worker_group_size'; id: string; workers: number }
  | { kind: 'waiting_for_workers'; live: number; needed: number }
  | {
      kind: 'message_rejected';
      workerId: string | null;
      reason: string;
      /** unauthenticated: no or wrong token; refused: a worker turned away (version, model); invalid: a malformed or hostile message. */
      cause?: RejectionCause;
    }
  | { kind: 'tensor_bytes'; direction: 'sent' | 'received'; workerId: string; bytes: number }
  | { kind: 'log'; level: 'info' | 'warn' | 'error'; text: string }
  | { kind: 'run_ended'; status: 'completed' | 'stopped' | 'failed'; error?: string };

export type RejectionCause = 'unauthenticated' | 'refused' | 'invalid';

export type RunListener = (e: RunEvent) => void;

export class RunEvents {
  private listeners: RunListener[] = [];

  /** Adds a listener; returns a function that removes it. */
  on(listener: RunListener): () => void {
    this.listeners.push(listener);
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  emit(e: RunEvent): void {
    for (const l of [...this.listeners]) {
      try {
        l(e);
      } catch (err) {
        this.listeners = this.listeners.filter((x) => x !== l);
        process.stderr.write(`sam-lora: an observer of run events failed and was removed: ${errorMessage(err)}\n`);
      }
    }
  }
}
