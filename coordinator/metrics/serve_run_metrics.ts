// `--metrics HOST:PORT` of `sam-lora train` and `sam-lora coordinator`: the run's metrics served
// over HTTP for the whole run; the command closes it when the run is over.

import type { Registry } from 'prom-client';
import { type MetricsServer, startMetricsServer } from '../../shared/prometheus/http_server.js';
import type { ListenAddress } from '../../shared/prometheus/listen_address.js';
import type { RunEvents } from '../run_events.js';
import { type RunMetricsOptions, createRunMetrics } from './run_metrics.js';

export interface RunMetricsEndpoint extends MetricsServer {
  readonly registry: Registry;
}

/** Serves the metrics of the run behind `events` at `listen`; throws MetricsListenError naming --metrics. */
export async function serveRunMetrics(o: { listen: ListenAddress; events: RunEvents } & RunMetricsOptions): Promise<RunMetricsEndpoint> {
  const metrics = createRunMetrics(o.events, o);
  let server: MetricsServer;
  try {
    server = await startMetricsServer({ listen: o.listen, source: metrics.registry, flag: '--metrics' });
  } catch (err) {
    metrics.detach();
    throw err;
  }
  return {
    address: server.address,
    port: server.port,
    url: server.url,
    registry: metrics.registry,
    async close() {
      metrics.detach();
      await server.close();
    },
  };
}
