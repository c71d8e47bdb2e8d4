// The run's events as pino records: each notable event (joins, evictions, checkpoints, evaluations,
// warnings, the trainer's messages) once, at its level, with its fields; steps at debug level with
// their numbers. From run_started on, every record carries the run id.

import type { Logger } from '../shared/log/logger.js';
import { describeEvent } from '../dashboard/event_text.js';
import type { RunEvent, RunListener } from './run_events.js';

function fields(e: RunEvent): Record<string, unknown> {
  switch (e.kind) {
    case 'run_started': {
      // The run id is already a binding of the child logger.
      const { runId: _runId, ...info } = e.info;
      return { event: e.kind, ...info };
    }
    case 'worker_joined':
      return { event: e.kind, workerId: e.id, host: e.host, device: e.device };
    case 'worker_evicted':
      return { event: e.kind, workerId: e.id, reason: e.reason };
    case 'message_rejected':
      return { event: e.kind, workerId: e.workerId, reason: e.reason, ...(e.cause ? { cause: e.cause } : {}) };
    case 'waiting_for_workers':
      return { event: e.kind, live: e.live, needed: e.needed };
    case 'checkpoint':
      return { event: e.kind, step: e.step, name: e.name, dir: e.dir };
    case 'eval':
      return { event: e.kind, step: e.step, epoch: e.epoch, dice: e.dice, iou: e.iou, best: e.best, phase: e.phase };
    case 'run_ended':
      return { event: e.kind, status: e.status, ...(e.error ? { error: e.error } : {}) };
    default:
      return {};
  }
}

/** A listener that logs the run's events to `base` (a child with the run id once the run starts). */
export function logRunEvents(base: Logger): RunListener {
  let log = base;
  return (e) => {
    if (e.kind === 'run_started') log = base.child({ runId: e.info.runId });
    if (e.kind === 'step') {
      if (log.isLevelEnabled('debug')) {
        log.debug({ event: 'step', step: e.step, epoch: e.epoch, loss: e.loss, lr: e.lr, images: e.images, skipped: e.skipped, stepSeconds: e.timing.stepSeconds }, `step ${e.step}`);
      }
      return;
    }
    const t = describeEvent(e);
    if (t) log[t.level](fields(e), t.text);
  };
}
