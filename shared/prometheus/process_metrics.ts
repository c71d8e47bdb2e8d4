// Process metrics (CPU, memory, event-loop lag, GC, file descriptors) from prom-client, under the
// project's prefix, registered on a run's own registry.

import { type Registry, collectDefaultMetrics } from 'prom-client';

export const METRIC_PREFIX = 'samlora_';

/**
 * Default metrics that are gauges named `..._total`: Prometheus reserves that suffix for counters
 * (promtool flags them), and each is the sum of a labelled gauge that stays.
 */
const DROPPED = ['nodejs_active_resources_total', 'nodejs_active_handles_total', 'nodejs_active_requests_total'];

export function registerProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX });
  for (const name of DROPPED) registry.removeSingleMetric(METRIC_PREFIX + name);
}
