// What one step costs the coordinator's link and CPU: tensor payload bytes in (gradients) and out
// (weights) per step, and the time spent adding the gradients up. Bytes between two step events
// belong to the later step (its weights go out at its start, its gradients come in before it ends).
// With host groups these fall with the number of groups, not workers (README "Host groups").

import { Gauge, Histogram, type Registry } from 'prom-client';
import { TRAINING_SECONDS_BUCKETS } from '../../shared/prometheus/buckets.js';
import type { RunEventSink } from './event_sink.js';

export function trafficMetrics(registry: Registry): RunEventSink {
  const registers = [registry];
  const bytesIn = new Gauge({ name: 'samlora_coordinator_step_received_bytes', help: 'Tensor payload bytes the coordinator received (gradients) during the last step.', registers });
  const bytesOut = new Gauge({ name: 'samlora_coordinator_step_sent_bytes', help: 'Tensor payload bytes the coordinator sent (weights) during the last step.', registers });
  const sum = new Histogram({
    name: 'samlora_gradient_sum_seconds',
    help: "Time the coordinator spent adding up a step's gradients (the reduction alone, without the optimizer).",
    registers,
    buckets: [0.0001, 0.0005, 0.001, 0.005, ...TRAINING_SECONDS_BUCKETS.filter((b) => b > 0.005)],
  });
  let inStep = 0;
  let outStep = 0;
  return (e) => {
    if (e.kind === 'tensor_bytes') {
      if (e.direction === 'received') inStep += e.bytes;
      else outStep += e.bytes;
    } else if (e.kind === 'step') {
      bytesIn.set(inStep);
      bytesOut.set(outStep);
      inStep = 0;
      outStep = 0;
      if (e.timing.gradientSumSeconds !== undefined) sum.observe(e.timing.gradientSumSeconds);
    }
  };
}
