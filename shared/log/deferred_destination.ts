// A log destination whose file is not known yet: the dashboard's logs go to <run dir>/coordinator.log,
// but the run directory is only decided once the run is prepared. Records are kept in memory until
// open(), then appended to the file; drainTo() sends them elsewhere when no file came (the run failed
// before it started), so no record is lost and none is drawn over the dashboard.

import { mkdirSync, openSync, writeSync } from 'node:fs';
import * as path from 'node:path';
import type { DestinationStream } from 'pino';

/** Records kept before open(); beyond this the oldest are dropped (a run stuck before its start). */
const MAX_BUFFERED = 10_000;

export class DeferredFileDestination implements DestinationStream {
  private buffered: string[] = [];
  private dropped = 0;
  private sink: ((s: string) => void) | null = null;
  /** The file records go to, once opened. */
  file: string | null = null;

  write(line: string): void {
    if (this.sink) return this.sink(line);
    this.buffered.push(line);
    if (this.buffered.length > MAX_BUFFERED) {
      this.buffered.shift();
      this.dropped++;
    }
  }

  /** Starts appending to `file` (created with its directory), the kept records first. */
  open(file: string): void {
    if (this.sink) return;
    mkdirSync(path.dirname(file), { recursive: true });
    const fd = openSync(file, 'a');
    this.file = file;
    this.switchTo((s) => void writeSync(fd, s));
  }

  /** Sends the kept records, and every later one, to `write` (when no file was opened). */
  drainTo(write: (s: string) => void): void {
    if (!this.sink) this.switchTo(write);
  }

  private switchTo(write: (s: string) => void): void {
    if (this.dropped) write(`${JSON.stringify({ level: 40, time: Date.now(), msg: `${this.dropped} early log records were dropped (kept the last ${MAX_BUFFERED})` })}\n`);
    for (const s of this.buffered) write(s);
    this.buffered = [];
    this.dropped = 0;
    this.sink = write;
  }
}
