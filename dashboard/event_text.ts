// One line of text per notable run event, shared by the dashboard's event log and the pino logs so
// both say the same thing. Per-step events (steps, bytes, epoch ends) are for the progress display,
// not the log: they describe to null.

import type { RunEvent } from '../coordinator/run_events.js';

export type EventLevel = 'info' | 'warn' | 'error';

export interface EventText {
  level: EventLevel;
  text: string;
}

const num = (x: number): string => (Number.isFinite(x) ? x.toFixed(4) : String(x));

export function describeEvent(e: RunEvent): EventText | null {
  switch (e.kind) {
    case 'run_started': {
      const i = e.info;
      const from = i.startStep > 0 ? `, resuming at step ${i.startStep}` : '';
      return { level: 'info', text: `run ${i.runId} started: ${i.variant}, rank ${i.rank}, ${i.device}, ${i.totalSteps} steps${from}` };
    }
    case 'worker_joined':
      return { level: 'info', text: `worker ${e.id} joined (${e.host}, ${e.device})` };
    case 'worker_evicted':
      return { level: 'warn', text: `worker ${e.id} left: ${e.reason}` };
    case 'worker_group_size':
      return { level: 'info', text: `worker ${e.id} carries ${e.workers} worker(s) of its host group` };
    case 'waiting_for_workers':
      return { level: 'warn', text: `waiting for workers: ${e.live} connected, ${e.needed} needed` };
    case 'message_rejected':
      return { level: 'warn', text: `rejected ${e.workerId ? `a message from ${e.workerId}` : 'a connection'}: ${e.reason}` };
    case 'checkpoint':
      return { level: 'info', text: `checkpoint ${e.name} at step ${e.step}` };
    case 'eval': {
      const when = e.phase === 'before' ? 'before training' : e.phase === 'after' ? 'after training' : `at step ${e.step}`;
      return { level: 'info', text: `eval ${when}: dice ${num(e.dice)} iou ${num(e.iou)}${e.best ? ' (best)' : ''}` };
    }
    case 'log':
      return { level: e.level, text: e.text };
    case 'run_ended':
      return { level: e.status === 'failed' ? 'error' : 'info', text: `run ${e.status}${e.error ? `: ${e.error}` : ''}` };
    case 'step':
    case 'epoch_done':
    case 'tensor_bytes':
      return null;
  }
}
