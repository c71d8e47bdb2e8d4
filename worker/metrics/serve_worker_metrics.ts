// `sam-lora worker --metrics HOST:PORT`: the worker's own metrics over HTTP while it serves a run.

import { type MetricsServer, startMetricsServer } from '../../shared/prometheus/http_server.js';
import type { ListenAddress } from '../../shared/prometheus/listen_address.js';
import type { WorkerObserver } from '../worker_observer.js';
import { type WorkerMetricsOptions, createWorkerMetrics } from './worker_metrics.js';

export interface WorkerMetricsEndpoint extends MetricsServer {
  readonly observer: WorkerObserver;
}

/** Throws MetricsListenError naming --metrics when it cannot listen. */
export async function serveWorkerMetrics(o: { listen: ListenAddress } & WorkerMetricsOptions): Promise<WorkerMetricsEndpoint> {
  const metrics = createWorkerMetrics(o);
  const server = await startMetricsServer({ listen: o.listen, source: metrics.registry, flag: '--metrics' });
  return { address: server.address, port: server.port, url: server.url, observer: metrics.observer, close: () => server.close() };
}
