// A message about the run from outside the training loop (preparing the run, the server's address,
// the local launcher's worker processes): to the progress callback as before, and as a `log` event so
// the dashboard and the logs, which read only the run's events, see it too.

import type { RunEvents } from './run_events.js';

export type NoteLevel = 'info' | 'warn' | 'error';

export function runNotes(o: { progress?: (line: string) => void; events?: RunEvents }): (line: string, level?: NoteLevel) => void {
  return (line, level = 'info') => {
    o.progress?.(line);
    o.events?.emit({ kind: 'log', level, text: line });
  };
}
