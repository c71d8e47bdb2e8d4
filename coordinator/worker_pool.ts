// Membership of the run's workers. Workers join at any time and take part from the next step;
// a worker that fails (disconnects, crashes, misses a deadline, returns a bad result) is evicted
// and its samples go to the others. The loop waits, saying so, while fewer than min_workers remain,
// counting the workers behind each member (an aggregator carries its group's: countWorkers).

import type { RunEvents } from './run_events.js';
import type { WorkerEndpoint } from '../shared/contract/worker_endpoint.js';
import { errorMessage } from '../shared/errors/error_message.js';

export type PoolEvent =
  | { kind: 'joined'; id: string; host: string; device: string }
  | { kind: 'evicted'; id: string; reason: string }
  /** The workers behind a member changed (an aggregator's group): `workers` of them now. */
  | { kind: 'resized'; id: string; workers: number }
  | { kind: 'waiting'; live: number; needed: number };

/** The workers that `endpoints` carry: one each, or an aggregator's group (0 while it has none). */
export function countWorkers(endpoints: readonly WorkerEndpoint[]): number {
  return endpoints.reduce((n, w) => n + (w.workers ?? 1), 0);
}

/** The run was stopped while it waited for workers. */
export class StoppedWhileWaiting extends Error {
  override readonly name = 'StoppedWhileWaiting';
}

export class WorkerPool {
  private readonly members = new Map<string, WorkerEndpoint>();
  /** The weights version each member holds. */
  private readonly versions = new Map<string, number>();
  private waiters: (() => void)[] = [];
  evictions = 0;

  constructor(
    readonly minWorkers: number,
    private readonly onEvent: (e: PoolEvent) => void = () => undefined,
  ) {
    if (!(Number.isInteger(minWorkers) && minWorkers >= 1)) throw new Error(`min_workers must be a positive integer (got ${minWorkers})`);
  }

  add(w: WorkerEndpoint): void {
    if (this.members.has(w.id)) throw new Error(`worker id ${w.id} is already in the pool`);
    this.members.set(w.id, w);
    this.versions.set(w.id, -1);
    this.onEvent({ kind: 'joined', id: w.id, host: w.placement?.host ?? '?', device: w.placement?.device ?? '?' });
    this.wake();
  }

  /** The workers behind member `id` changed (an aggregator's group grew or shrank): count again. */
  recount(id: string): void {
    const w = this.members.get(id);
    if (!w) return;
    this.onEvent({ kind: 'resized', id, workers: w.workers ?? 1 });
    this.wake();
  }

  private wake(): void {
    const ws = this.waiters;
    this.waiters = [];
    for (const wake of ws) wake();
  }

  /** Removes a worker (closing it; errors from close are ignored: it is already gone). */
  evict(id: string, reason: string): void {
    const w = this.members.get(id);
    if (!w) return;
    this.members.delete(id);
    this.versions.delete(id);
    this.evictions++;
    this.onEvent({ kind: 'evicted', id, reason });
    w.close(reason).catch(() => undefined);
  }

  /** Members (sessions): an aggregator is one. */
  get size(): number {
    return this.members.size;
  }

  /** The workers the members carry (what min_workers counts). */
  get workers(): number {
    return countWorkers(this.live());
  }

  live(): WorkerEndpoint[] {
    return [...this.members.values()];
  }

  /** The live workers that hold weights `version` (a worker that joined during a sync does not yet). */
  current(version: number): WorkerEndpoint[] {
    return this.live().filter((w) => this.versions.get(w.id) === version);
  }

  /** Resolves with the live members once they carry at least min_workers workers. */
  async ready(signal?: AbortSignal): Promise<WorkerEndpoint[]> {
    while (this.workers < this.minWorkers) {
      if (signal?.aborted) throw new StoppedWhileWaiting(`stopped while waiting for workers (${this.workers} of ${this.minWorkers} connected)`);
      this.onEvent({ kind: 'waiting', live: this.workers, needed: this.minWorkers });
      await new Promise<void>((resolve) => {
        const onAbort = (): void => resolve();
        signal?.addEventListener('abort', onAbort, { once: true });
        this.waiters.push(() => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        });
      });
      if (signal?.aborted) throw new StoppedWhileWaiting(`stopped while waiting for workers (${this.workers} of ${this.minWorkers} connected)`);
    }
    return this.live();
  }

  /** Sends the weights to every live worker that does not hold this version; evicts the ones that fail. */
  async sync(version: number, params: ReadonlyMap<string, Float32Array>): Promise<void> {
    const behind = this.live().filter((w) => this.versions.get(w.id) !== version);
    const settled = await Promise.allSettled(behind.map((w) => w.setWeights(version, params)));
    settled.forEach((s, i) => {
      const w = behind[i]!;
      if (s.status === 'fulfilled') this.versions.set(w.id, version);
      else this.evict(w.id, `could not take weights version ${version}: ${errorMessage(s.reason)}`);
    });
  }

  /** Forwards membership changes to the run's events (dashboard, metrics). */
  static forwarding(minWorkers: number, events: RunEvents | undefined, also: (e: PoolEvent) => void = () => undefined): WorkerPool {
    return new WorkerPool(minWorkers, (e) => {
      also(e);
      if (!events) return;
      if (e.kind === 'joined') events.emit({ kind: 'worker_joined', id: e.id, host: e.host, device: e.device });
      else if (e.kind === 'evicted') events.emit({ kind: 'worker_evicted', id: e.id, reason: e.reason });
      else if (e.kind === 'resized') events.emit({ kind: 'worker_group_size', id: e.id, workers: e.workers });
      else events.emit({ kind: 'waiting_for_workers', live: e.live, needed: e.needed });
    });
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.live().map((w) => w.close().catch(() => undefined)));
    this.members.clear();
  }
}
