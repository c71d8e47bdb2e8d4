// What run this is, as an _info gauge (value 1) whose labels join onto the other series in PromQL.

import { Gauge, type Registry } from 'prom-client';
import type { RunEventSink } from './event_sink.js';

export function runInfoMetrics(registry: Registry): RunEventSink {
  const info = new Gauge({
    name: 'samlora_run_info',
    help: 'The run: its id, SAM variant, device and LoRA rank (always 1).',
    labelNames: ['run_id', 'variant', 'device', 'rank'] as const,
    registers: [registry],
  });
  return (e) => {
    if (e.kind !== 'run_started') return;
    // One series per process: a resumed run in the same process replaces it.
    info.reset();
    info.set({ run_id: e.info.runId, variant: e.info.variant, device: e.info.device, rank: String(e.info.rank) }, 1);
  };
}
