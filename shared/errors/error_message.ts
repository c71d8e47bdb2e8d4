// What to print for a caught value: an Error's message, anything else (a thrown string, a
// rejection reason) as text. One spelling, so every report of a failure reads the same.

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The same with the stack trace when there is one: for logs that a developer reads, not users. */
export function errorWithStack(err: unknown): string {
  return err instanceof Error ? (err.stack ?? err.message) : String(err);
}
