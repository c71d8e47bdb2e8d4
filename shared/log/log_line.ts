// A child process's stderr line as a log message: worker processes log pino JSON records, which the
// local launcher turns back into a level and a message for the coordinator's own logs and dashboard;
// anything else (a fatal error printed outside the logger) is kept as it is, as a warning.

export interface LogLine {
  level: 'info' | 'warn' | 'error';
  text: string;
}

/** pino's numeric levels: 40 warn, 50 error, 60 fatal. */
function levelOf(n: unknown): LogLine['level'] {
  if (typeof n !== 'number') return 'info';
  return n >= 50 ? 'error' : n >= 40 ? 'warn' : 'info';
}

export function parseLogLine(line: string): LogLine | null {
  const t = line.trim();
  if (!t) return null;
  if (t.startsWith('{')) {
    try {
      const rec = JSON.parse(t) as { level?: unknown; msg?: unknown };
      if (typeof rec.msg === 'string') return { level: levelOf(rec.level), text: rec.msg };
    } catch {
      // not JSON after all: kept as text below
    }
  }
  // Plain text comes from outside the logger: a worker's last words before it exits.
  return { level: 'warn', text: t };
}
