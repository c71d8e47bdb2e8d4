// What happens during a run, as typed events: the one source the dashboard, the Prometheus metrics
// and the logs read from. The training loop, the worker pool and the gRPC server emit; observers
// subscribe. Emitting never throws into the training loop (a broken observer is reported once and
// dropped), so a dashboard bug cannot stop a run.

import { errorMessage } from '../shared/errors/error_message.js';

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
  /** Whole step: assignment, compute, gather, reduction and optimizer. */
  stepSeconds: number;
  /** Adding up the gradients plus the optimizer step. */
  reduceSeconds: number;
  /** Adding up the gradients alone (part of reduceSeconds), when measured. */
  gradientSumSeconds?: number;
  /** From the first worker's answer to the last one's: time spent waiting for the slowest. */
  waitForSlowestSeconds: number;
  workers: WorkerStepTiming[];
}

export type RunEvent =
  | { kind: 'run_started'; info: RunInfo }
  | {
      kind: 'step';
      step: number;
      epoch: number;
      /** Samples trained in this step (failed samples excluded). */
      images: number;
      loss: number;
      lr: number;
      /** The optimizer skipped this step (non-finite loss or gradient, or no trainable sample). */
      skipped: boolean;
      timing: StepTiming;
    }
  | { kind: 'epoch_done'; epoch: number }
  | { kind: 'eval'; step: number; epoch: number; dice: number; iou: number; best: boolean; phase: 'before' | 'during' | 'after' }
  | { kind: 'checkpoint'; step: number; dir: string; name: string }
  | { kind: 'worker_joined'; id: string; host: string; device: string }
  | { kind: 'worker_evicted'; id: string; reason: string }
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
