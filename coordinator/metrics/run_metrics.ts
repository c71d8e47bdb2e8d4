// The coordinator's Prometheus metrics: a fresh registry per run (never prom-client's global one,
// so runs and tests in one process do not collide), fed only by the run's events.

import { Registry } from 'prom-client';
import { registerProcessMetrics } from '../../shared/prometheus/process_metrics.js';
import type { RunEvents } from '../run_events.js';
import { checkpointMetrics } from './checkpoint_metrics.js';
import { evalMetrics } from './eval_metrics.js';
import { membershipMetrics } from './membership_metrics.js';
import { progressMetrics } from './progress_metrics.js';
import { runInfoMetrics } from './run_info_metrics.js';
import { throughputMetrics } from './throughput_metrics.js';
import { timingMetrics } from './timing_metrics.js';
import { trafficMetrics } from './traffic_metrics.js';
import { workerMemoryMetrics } from './worker_memory_metrics.js';
import { WorkerLabels } from './worker_label.js';
import { wireMetrics } from './wire_metrics.js';

export interface RunMetricsOptions {
  /** The run's minimum of workers (--min-workers, K of --workers K); default 1. */
  requiredWorkers?: number;
  /** Monotonic clock in seconds, for the scrape-time gauges (tests inject one). */
  now?: () => number;
  /** Most distinct `worker` label values before new workers share "other". */
  maxWorkerLabels?: number;
  /** Process metrics (CPU, memory, event loop, GC); default true. */
  processMetrics?: boolean;
}

export interface RunMetrics {
  readonly registry: Registry;
  /** Stops following the run's events (the registry keeps its last values). */
  detach(): void;
}

export function createRunMetrics(events: RunEvents, o: RunMetricsOptions = {}): RunMetrics {
  const registry = new Registry();
  const workers = new WorkerLabels(o.maxWorkerLabels);
  const sinks = [
    runInfoMetrics(registry),
    progressMetrics(registry),
    timingMetrics(registry, workers),
    workerMemoryMetrics(registry, workers),
    throughputMetrics(registry, o.now),
    evalMetrics(registry),
    checkpointMetrics(registry, o.now),
    membershipMetrics(registry, o.requiredWorkers),
    wireMetrics(registry, workers),
    trafficMetrics(registry),
  ];
  if (o.processMetrics ?? true) registerProcessMetrics(registry);
  const detach = events.on((e) => {
    for (const sink of sinks) sink(e);
  });
  return { registry, detach };
}
