// The coordinator's gRPC traffic: tensor payload bytes per worker (gradients in, weights out) and
// messages refused, by a bounded cause.

import { Counter, type Registry } from 'prom-client';
import type { RejectionCause } from '../run_events.js';
import type { RunEventSink } from './event_sink.js';
import type { WorkerLabels } from './worker_label.js';

const CAUSES: readonly RejectionCause[] = ['unauthenticated', 'refused', 'invalid'];

export function wireMetrics(registry: Registry, workers: WorkerLabels): RunEventSink {
  const registers = [registry];
  const received = new Counter({ name: 'samlora_gradients_received_bytes_total', help: 'Gradient tensor payload bytes received from each worker.', labelNames: ['worker'] as const, registers });
  const sent = new Counter({ name: 'samlora_weights_sent_bytes_total', help: 'Weight tensor payload bytes sent to each worker.', labelNames: ['worker'] as const, registers });
  const rejected = new Counter({
    name: 'samlora_rejected_messages_total',
    help: 'Calls and messages refused: unauthenticated (no or wrong token), refused (a worker turned away: version, model), invalid (malformed or hostile; the sender is evicted).',
    labelNames: ['cause'] as const,
    registers,
  });
  for (const cause of CAUSES) rejected.inc({ cause }, 0);
  return (e) => {
    if (e.kind === 'tensor_bytes') {
      (e.direction === 'received' ? received : sent).inc({ worker: workers.of(e.workerId) }, e.bytes);
    } else if (e.kind === 'message_rejected') {
      rejected.inc({ cause: e.cause ?? (e.workerId === null ? 'refused' : 'invalid') });
    }
  };
}
