// The logging flags every long-running command shares (--log-level, --log-file, --log-pretty): their
// parseArgs options, their usage text and their validation, so coordinator, train and worker agree.

export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LogSettings {
  level: LogLevel;
  /** Write the logs to this file (appended) instead of stderr. */
  file?: string;
  /** Human-readable lines (pino-pretty) instead of JSON. */
  pretty: boolean;
}

/** The flags, for node:util parseArgs `options`. */
export const LOG_ARG_OPTIONS = {
  'log-level': { type: 'string' },
  'log-file': { type: 'string' },
  'log-pretty': { type: 'boolean' },
} as const;

export const LOG_USAGE = `  --log-level LEVEL        ${LOG_LEVELS.join(', ')} (default info)
  --log-file FILE          write the logs (JSON lines) to FILE instead of stderr
  --log-pretty             human-readable log lines instead of JSON`;

export class LogSettingsError extends Error {
  override readonly name = 'LogSettingsError';
}

export function isLogLevel(s: string): s is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(s);
}

/** The settings from parsed flags; throws LogSettingsError naming the flag. */
export function logSettingsFromArgs(values: { 'log-level'?: string; 'log-file'?: string; 'log-pretty'?: boolean }): LogSettings {
  const level = values['log-level'] ?? 'info';
  if (!isLogLevel(level)) throw new LogSettingsError(`--log-level ${level}: expected one of ${LOG_LEVELS.join(', ')}`);
  if (values['log-file'] === '') throw new LogSettingsError('--log-file needs a file');
  return { level, pretty: values['log-pretty'] ?? false, ...(values['log-file'] !== undefined ? { file: values['log-file'] } : {}) };
}
