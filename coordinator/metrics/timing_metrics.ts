// Where a step's time goes, as histograms (quantiles in PromQL): the whole step, each worker's
// reported compute, the reduction + optimizer, the wait for the slowest worker, and the overhead
// beyond compute (what bench/comm_overhead.ts measures, here on the real run).

import { Histogram, type Registry } from 'prom-client';
import { TRAINING_SECONDS_BUCKETS } from '../../shared/prometheus/buckets.js';
import type { RunEventSink } from './event_sink.js';
import type { WorkerLabels } from './worker_label.js';

export function timingMetrics(registry: Registry, workers: WorkerLabels): RunEventSink {
  const common = { registers: [registry], buckets: [...TRAINING_SECONDS_BUCKETS] };
  const step = new Histogram({ name: 'samlora_step_duration_seconds', help: 'Wall time of a whole training step: assignment, compute, gather, reduction and optimizer (waiting for workers excluded).', ...common });
  const compute = new Histogram({ name: 'samlora_worker_compute_seconds', help: 'Compute time each worker reports for its share of a step.', labelNames: ['worker'] as const, ...common });
  const reduce = new Histogram({ name: 'samlora_reduce_duration_seconds', help: 'Time adding up the gradients plus the optimizer step.', ...common });
  const wait = new Histogram({ name: 'samlora_wait_for_slowest_seconds', help: "Time from a step's first worker answer to its last: waiting for the slowest worker.", ...common });
  const overhead = new Histogram({
    name: 'samlora_step_overhead_seconds',
    help: "Step wall time beyond the slowest worker's compute: weights and samples out, gradients back, reduction and optimizer.",
    ...common,
  });
  return (e) => {
    if (e.kind !== 'step') return;
    const t = e.timing;
    step.observe(t.stepSeconds);
    reduce.observe(t.reduceSeconds);
    wait.observe(t.waitForSlowestSeconds);
    for (const w of t.workers) compute.observe({ worker: workers.of(w.workerId) }, w.computeSeconds);
    if (t.workers.length) overhead.observe(Math.max(0, t.stepSeconds - Math.max(...t.workers.map((w) => w.computeSeconds))));
  };
}
