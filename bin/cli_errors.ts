// How a command reports failure: usage mistakes (ours, or node:util parseArgs') print the message
// and the usage and exit 2; a CommandFailure prints its message and exits with its status; anything
// else prints one line, no stack trace, and exits 1.

import { errorMessage } from '../shared/errors/error_message.js';

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** A failure with an exit status of its own (other than 1), for callers that tell failures apart. */
export class CommandFailure extends Error {
  override readonly name = 'CommandFailure';
  constructor(
    message: string,
    readonly exitStatus: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

function isParseArgsError(e: unknown): boolean {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS');
}

/** `check()`'s result; whatever it throws (a flag's value it refuses) becomes a UsageError. */
export function asUsage<T>(check: () => T): T {
  try {
    return check();
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(errorMessage(err), { cause: err });
  }
}

/** Writes the error for `sam-lora <command>` and returns the exit status. */
export function reportCommandError(command: string, usage: string, e: unknown): number {
  if (e instanceof UsageError || isParseArgsError(e)) {
    process.stderr.write(`sam-lora ${command}: ${errorMessage(e)}\n\n${usage}`);
    return 2;
  }
  process.stderr.write(`sam-lora ${command}: ${errorMessage(e)}\n`);
  return e instanceof CommandFailure ? e.exitStatus : 1;
}
