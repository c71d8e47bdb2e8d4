// How long a worker waits before its next connection attempt: exponential backoff with full jitter
// (a uniformly random wait up to the exponential bound), so that the workers of a fleet that all
// lost their coordinator at once do not all come back at the same instants.

export const BACKOFF_BASE_MS = 500;
export const BACKOFF_CAP_MS = 10_000;

/** The wait before retry number `attempt` (0 for the first retry), in ms, in [0, min(cap, base * 2^attempt)). */
export function backoffDelay(attempt: number, random: () => number = Math.random): number {
  const bound = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** Math.min(Math.max(0, attempt), 30));
  return Math.floor(random() * bound);
}
