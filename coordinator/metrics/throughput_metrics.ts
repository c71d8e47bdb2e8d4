// Images per second over the last minute, computed when scraped (a stalled run reads 0).

import { performance } from 'node:perf_hooks';
import { Gauge, type Registry } from 'prom-client';
import type { RunEventSink } from './event_sink.js';
import { RecentRate } from './recent_rate.js';

export const THROUGHPUT_WINDOW_SECONDS = 60;

/** @param now seconds on a monotonic clock (injected by tests). */
export function throughputMetrics(registry: Registry, now: () => number = () => performance.now() / 1000): RunEventSink {
  const rate = new RecentRate(THROUGHPUT_WINDOW_SECONDS);
  new Gauge({
    name: 'samlora_images_per_second',
    help: `Training images per second over the last ${THROUGHPUT_WINDOW_SECONDS} s (0 when no step finished in that time).`,
    registers: [registry],
    collect() {
      this.set(rate.rate(now()));
    },
  });
  return (e) => {
    if (e.kind === 'step') rate.record(now(), e.timing.stepSeconds, e.images);
  };
}
