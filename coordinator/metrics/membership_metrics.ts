// The run's workers: how many are live, how many short of the minimum while training waits, how many
// were evicted; joins and evictions as counters (alert on increase). Live counts workers as
// --min-workers does: an aggregator's group by its size, the other sessions as one each.

import { Counter, Gauge, type Registry } from 'prom-client';
import type { RunEventSink } from './event_sink.js';

/** @param requiredWorkers the run's minimum (--min-workers, or K of --workers K), when known. */
export function membershipMetrics(registry: Registry, requiredWorkers?: number): RunEventSink {
  const registers = [registry];
  const workers = new Gauge({
    name: 'samlora_workers',
    help: "Workers by state: live (in the pool; an aggregator's workers counted), missing (short of the minimum while training waits), evicted (sessions, so far in this process).",
    labelNames: ['state'] as const,
    registers,
  });
  const required = new Gauge({ name: 'samlora_workers_required', help: 'Workers the run needs to train (--min-workers).', registers });
  const waiting = new Gauge({ name: 'samlora_waiting_for_workers', help: '1 while training waits for workers (fewer live than required), else 0.', registers });
  const joins = new Counter({ name: 'samlora_worker_joins_total', help: 'Workers that joined the pool.', registers });
  const evictions = new Counter({ name: 'samlora_worker_evictions_total', help: 'Workers evicted: failed, disconnected, missed heartbeats or the step deadline, or sent a refused result.', registers });
  workers.set({ state: 'evicted' }, 0);
  // The workers behind each session: 1, or an aggregator's group size.
  const sessions = new Map<string, number>();
  let live = 0;
  const recount = (): void => {
    live = [...sessions.values()].reduce((a, b) => a + b, 0);
  };
  let ended = false;
  let needed = requiredWorkers ?? 1;
  required.set(needed);
  const update = (): void => {
    workers.set({ state: 'live' }, live);
    workers.set({ state: 'missing' }, Math.max(0, needed - live));
    waiting.set(live < needed ? 1 : 0);
  };
  update();
  return (e) => {
    switch (e.kind) {
      case 'worker_joined':
        sessions.set(e.id, 1);
        recount();
        joins.inc();
        return update();
      case 'worker_group_size':
        if (!sessions.has(e.id)) return;
        sessions.set(e.id, e.workers);
        recount();
        return update();
      case 'worker_evicted':
        sessions.delete(e.id);
        recount();
        // Sessions closed by the coordinator once the run is over are not failures.
        if (!ended) {
          evictions.inc();
          workers.inc({ state: 'evicted' });
        }
        return update();
      case 'run_started':
      case 'run_ended':
        ended = e.kind === 'run_ended';
        return;
      case 'waiting_for_workers':
        live = e.live;
        needed = e.needed;
        required.set(needed);
        return update();
      default:
        return;
    }
  };
}
