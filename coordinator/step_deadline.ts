// How long the coordinator waits for one worker's share of a step. A fixed 10 minutes lets a worker
// that froze hold every step for 10 minutes; instead the deadline follows the worker's observed pace:
// max(floor, factor x the time it took, lately, for a share that size), capped by the first-share
// allowance, which is also the deadline of a worker not yet observed (its first share includes
// building its ORT session). An operator's fixed deadline (--step-deadline) replaces all of it.

export interface StepDeadlinePolicy {
  /** A fixed deadline for every share (--step-deadline); the derived one is not used. */
  fixedMs?: number;
  /** The deadline of a worker's first share, and the most any share gets (default 10 minutes). */
  firstShareMs?: number;
  /** The least any share gets, however fast the worker was (default 30 s: absorbs GC pauses, a busy host, a slow link). */
  floorMs?: number;
  /** How many times its expected time a share may take (default 4: normal jitter stays well inside). */
  factor?: number;
}

export const DEFAULT_FIRST_SHARE_MS = 10 * 60_000;
export const DEFAULT_DEADLINE_FLOOR_MS = 30_000;
export const DEFAULT_DEADLINE_FACTOR = 4;

/** The deadline, in ms, of a share expected to take `expectedSeconds` (undefined: the worker was not observed yet). */
export function shareDeadlineMs(policy: StepDeadlinePolicy, expectedSeconds: number | undefined): number {
  if (policy.fixedMs !== undefined) return policy.fixedMs;
  const first = policy.firstShareMs ?? DEFAULT_FIRST_SHARE_MS;
  if (expectedSeconds === undefined || !Number.isFinite(expectedSeconds)) return first;
  const derived = Math.round((policy.factor ?? DEFAULT_DEADLINE_FACTOR) * expectedSeconds * 1000);
  return Math.min(first, Math.max(policy.floorMs ?? DEFAULT_DEADLINE_FLOOR_MS, derived));
}

/** Checks a policy's numbers (a config or CLI value at fault is named by the caller). */
export function checkDeadlinePolicy(p: StepDeadlinePolicy): void {
  for (const [name, v] of [
    ['fixedMs', p.fixedMs],
    ['firstShareMs', p.firstShareMs],
    ['floorMs', p.floorMs],
    ['factor', p.factor],
  ] as const) {
    if (v !== undefined && !(Number.isFinite(v) && v > 0)) throw new Error(`step deadline: ${name} must be a positive number (got ${v})`);
  }
}
