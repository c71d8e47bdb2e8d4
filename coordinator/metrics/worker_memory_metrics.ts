// Each worker's peak memory as it reports it with its step results: host RSS of the worker process
// (the compute thread included). Memory decides the batch a worker can take, so it is watched per
// worker like compute time.

import { Gauge, type Registry } from 'prom-client';
import type { RunEventSink } from './event_sink.js';
import type { WorkerLabels } from './worker_label.js';

export function workerMemoryMetrics(registry: Registry, workers: WorkerLabels): RunEventSink {
  const peak = new Gauge({
    name: 'samlora_worker_peak_rss_bytes',
    help: "Peak resident memory of each worker's process so far (host RSS, bytes), as it last reported with a step result.",
    labelNames: ['worker'] as const,
    registers: [registry],
  });
  return (e) => {
    if (e.kind !== 'step') return;
    for (const w of e.timing.workers) if (w.peakRssBytes !== undefined) peak.set({ worker: workers.of(w.workerId) }, w.peakRssBytes);
  };
}
