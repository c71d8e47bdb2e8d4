// Whether the run is getting anywhere, for the health check a liveness probe reads: a coordinator
// whose port answers but whose steps stopped (a hang nobody evicts) is reported NOT_SERVING, so an
// orchestrator restarts it and the run resumes from its checkpoint. Waiting for workers is not a
// stall (restarting the coordinator would not bring them); the clock restarts when one joins.

import { performance } from 'node:perf_hooks';
import type { RunEvent, RunEvents } from './run_events.js';

export class ProgressWatch {
  private last: number;
  private waiting = false;

  constructor(
    events: RunEvents,
    /** Longest time without progress that is still healthy. */
    readonly limitMs: number,
    /** Milliseconds on a monotonic clock (tests give their own). */
    private readonly clock: () => number = () => performance.now(),
  ) {
    this.last = clock();
    events.on((e) => this.see(e));
  }

  private see(e: RunEvent): void {
    switch (e.kind) {
      case 'waiting_for_workers':
        this.waiting = true;
        this.last = this.clock();
        return;
      case 'run_started':
      case 'step':
      case 'eval':
      case 'checkpoint':
      case 'worker_joined':
        this.waiting = false;
        this.last = this.clock();
        return;
      default:
        return;
    }
  }

  /** Milliseconds since the run last made progress (0 while it waits for workers). */
  stalledMs(): number {
    return this.waiting ? 0 : this.clock() - this.last;
  }

  get healthy(): boolean {
    return this.stalledMs() <= this.limitMs;
  }
}
