// Numeric command-line options, checked the same way by every command that takes them.

import { UsageError } from './cli_errors.js';

/** --NAME as an integer >= min; `fallback` when absent. */
export function intOption(name: string, value: string | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (!/^-?\d+$/.test(value)) throw new UsageError(`--${name} must be an integer (got "${value}")`);
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min) throw new UsageError(`--${name} must be an integer >= ${min} (got ${value})`);
  return n;
}

/** --NAME as a positive finite number; `fallback` when absent. */
export function positiveNumberOption(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!(Number.isFinite(n) && n > 0)) throw new UsageError(`--${name} must be a positive number (got "${value}")`);
  return n;
}
