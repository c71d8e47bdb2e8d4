// Checkpoints: how many were written and how old the newest one a restart would resume from is,
// computed when scraped (the work a crash would lose now).

import { performance } from 'node:perf_hooks';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { RunEventSink } from './event_sink.js';

/** 'best' is a copy of the best evaluation's adapters, not a point to resume from. */
const NOT_A_RESUME_POINT = new Set(['best']);

/** @param now seconds on a monotonic clock (injected by tests). */
export function checkpointMetrics(registry: Registry, now: () => number = () => performance.now() / 1000): RunEventSink {
  const registers = [registry];
  let since = now();
  const written = new Counter({ name: 'samlora_checkpoints_total', help: 'Checkpoints written by this process (step, best and final).', registers });
  const step = new Gauge({ name: 'samlora_checkpoint_step', help: 'Step of the newest checkpoint a restart resumes from.', registers });
  new Gauge({
    name: 'samlora_checkpoint_age_seconds',
    help: 'Seconds since the newest checkpoint a restart resumes from (since the run started in this process, before the first one).',
    registers,
    collect() {
      this.set(Math.max(0, now() - since));
    },
  });
  return (e) => {
    if (e.kind === 'run_started') {
      since = now();
    } else if (e.kind === 'checkpoint') {
      written.inc();
      if (NOT_A_RESUME_POINT.has(e.name)) return;
      since = now();
      step.set(e.step);
    }
  };
}
