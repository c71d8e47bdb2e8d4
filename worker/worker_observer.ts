// What a worker process reports about its own work (its /metrics): sessions, tasks computed and
// tensor bytes on the wire. Every hook is optional and must not throw into the session.

export interface WorkerObserver {
  /** The coordinator welcomed this worker under `workerId`. */
  connected?(workerId: string): void;
  /** The session ended (run over, lost connection or refusal). */
  disconnected?(): void;
  /** A training step's share was computed. */
  trainStep?(o: { samples: number; computeSeconds: number }): void;
  /** An evaluation share was computed. */
  evaluated?(o: { samples: number; seconds: number }): void;
  /** Tensor payload bytes: weights received, gradients sent. */
  bytes?(direction: 'sent' | 'received', bytes: number): void;
}
