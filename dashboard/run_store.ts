// The dashboard's view of the run: subscribes to the run's events, folds each into the RunState as it
// arrives (cheap, so nothing is missed), and publishes a new snapshot to the screen at most every
// `intervalMs` (4 a second by default): a fast run emits hundreds of events a second, a terminal
// redrawn that often flickers and costs the training loop CPU.

import type { RunEvents } from '../coordinator/run_events.js';
import { type RunState, initialRunState, reduceRunState } from './run_state.js';

export interface RunStoreOptions {
  /** Minimum time between published snapshots (default 250 ms). */
  intervalMs?: number;
  /** The clock events are stamped with (tests replay recorded times). */
  now?: () => number;
}

export class RunStore {
  private state: RunState = initialRunState();
  private published: RunState = this.state;
  private listeners = new Set<() => void>();
  private timer: NodeJS.Timeout | null = null;
  private lastPublish = 0;
  private readonly intervalMs: number;
  private readonly now: () => number;
  private readonly off: () => void;

  constructor(events: RunEvents, o: RunStoreOptions = {}) {
    this.intervalMs = o.intervalMs ?? 250;
    this.now = o.now ?? Date.now;
    this.off = events.on((e) => {
      this.state = reduceRunState(this.state, e, this.now());
      this.schedule();
    });
  }

  /** For React's useSyncExternalStore: the last published snapshot (stable between publishes). */
  readonly snapshot = (): RunState => this.published;

  readonly subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  /** Publishes the latest state now (the final frame). */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.publish();
  }

  close(): void {
    this.off();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule(): void {
    if (this.timer) return;
    const wait = this.lastPublish + this.intervalMs - this.now();
    if (wait <= 0) return this.publish();
    this.timer = setTimeout(() => {
      this.timer = null;
      this.publish();
    }, wait);
    // A pending redraw must not keep the process alive after the run.
    this.timer.unref();
  }

  private publish(): void {
    this.lastPublish = this.now();
    if (this.published === this.state) return;
    this.published = this.state;
    for (const l of [...this.listeners]) l();
  }
}
