// How a command reports failure: usage mistakes (ours, or node:util parseArgs') print the message
// and the usage and exit 2; anything else prints one line, no stack trace, and exits 1.

import { errorMessage } from '../shared/errors/error_message.js';

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

function isParseArgsError(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS');
}

/** Writes the error for `sam-lora <command>` and returns the exit status. */
export function reportCommandError(command: string, usage: string, e: unknown): number {
  if (e instanceof UsageError || isParseArgsError(e)) {
    process.stderr.write(`sam-lora ${command}: ${(e as Error).message}\n\n${usage}`);
    return 2;
  }
  process.stderr.write(`sam-lora ${command}: ${errorMessage(e)}\n`);
  return 1;
}
