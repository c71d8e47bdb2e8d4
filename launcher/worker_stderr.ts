// The local launcher's worker processes log pino JSON to stderr; their lines become the
// coordinator's messages ("[worker 0] joined run ... as host-1"), at their level, so they reach the
// dashboard's event log and the coordinator's logs instead of being drawn over the screen.

import { type Interface, createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { parseLogLine } from '../shared/log/log_line.js';
import type { NoteLevel } from '../coordinator/run_notes.js';

/** Forwards each whole line of a worker's output (a JSON record's message, or the text) to `say`. */
export function forwardWorkerStderr(stderr: Readable, index: number, say: (line: string, level: NoteLevel) => void): Interface {
  // readline: a record split across two reads is still one line.
  const lines = createInterface({ input: stderr, crlfDelay: Infinity });
  lines.on('line', (line) => {
    const parsed = parseLogLine(line);
    if (parsed) say(`[worker ${index}] ${parsed.text.replace(/^sam-lora worker: /, '')}`, parsed.level);
  });
  return lines;
}
