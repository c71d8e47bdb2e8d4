// The one way sam-lora processes log: pino, JSON lines with the process's bindings (role, run id,
// worker id), to stderr, a file, or a stream the caller owns (the dashboard's deferred file);
// pino-pretty lines only when asked. Writes are synchronous so nothing is lost when a run exits.

import { pino, type DestinationStream, type Logger } from 'pino';
import type { LogSettings } from './log_settings.js';
import { prettyDestination } from './pretty_destination.js';

export type { Logger } from 'pino';

export interface LoggerOptions {
  /** Fields on every record, e.g. { role: 'coordinator', runId }. */
  bindings?: Record<string, string | number>;
  /** Where records go when settings.file is not set (default: process.stderr). */
  destination?: DestinationStream;
}

export function createLogger(settings: LogSettings, o: LoggerOptions = {}): Logger {
  const target: DestinationStream & { isTTY?: boolean } = settings.file
    ? pino.destination({ dest: settings.file, sync: true, mkdir: true, append: true })
    : (o.destination ?? process.stderr);
  const out = settings.pretty ? prettyDestination(target, { colorize: target.isTTY === true }) : target;
  return pino({ level: settings.level, base: { pid: process.pid, ...o.bindings } }, out);
}
