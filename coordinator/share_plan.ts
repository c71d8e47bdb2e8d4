// How many of a step's samples each worker gets: in proportion to its measured throughput, so a
// mixed fleet finishes a step together instead of at the slowest worker's pace. The gradients are
// sums weighted by sample, so any split gives the same step (up to the order of float additions).

/** Samples per second a worker reached, smoothed over its recent steps. */
export class ThroughputTable {
  private readonly rates = new Map<string, number>();
  private readonly seen = new Set<string>();

  /** `skipFirst`: each worker's first observation is not counted (it includes building the worker's session). */
  constructor(private readonly o: { skipFirst?: boolean } = {}) {}

  /** Records that `workerId` computed `samples` samples in `seconds`. */
  record(workerId: string, samples: number, seconds: number): void {
    if (!(samples > 0 && seconds > 0 && Number.isFinite(seconds))) return;
    if (this.o.skipFirst && !this.seen.has(workerId)) {
      this.seen.add(workerId);
      return;
    }
    const rate = samples / seconds;
    const old = this.rates.get(workerId);
    this.rates.set(workerId, old === undefined ? rate : 0.5 * old + 0.5 * rate);
  }

  /** Seconds `workerId` is expected to take for `samples` samples at its smoothed rate; undefined until measured. */
  expectedSeconds(workerId: string, samples: number): number | undefined {
    const rate = this.rates.get(workerId);
    return rate === undefined ? undefined : samples / rate;
  }

  /** The workers' relative speeds; a worker not measured yet counts as the mean of the others (1 when none is). */
  weights(workerIds: readonly string[]): number[] {
    const known = workerIds.map((id) => this.rates.get(id)).filter((r): r is number => r !== undefined);
    const fallback = known.length ? known.reduce((a, b) => a + b, 0) / known.length : 1;
    return workerIds.map((id) => this.rates.get(id) ?? fallback);
  }
}

/**
 * Splits `n` items into counts proportional to `weights` (largest remainder; the counts sum to n).
 * With at least as many items as workers, each gets one first: a worker that looked slow once (a
 * warm-up, a pause) is measured again instead of being left out for good. An endpoint that carries
 * several workers (`carried`, an aggregator's group) then gets one per worker first, when there are
 * enough items for all: a step of one sample per worker splits the same way with or without groups.
 */
export function planShares(n: number, weights: readonly number[], carried?: readonly number[]): number[] {
  if (weights.length === 0) return [];
  const perWorker = carried?.map((c) => Math.max(1, Math.floor(c))) ?? weights.map(() => 1);
  const all = perWorker.reduce((a, b) => a + b, 0);
  const firsts = n >= all ? perWorker : weights.map(() => (n >= weights.length ? 1 : 0));
  const rest = n - firsts.reduce((a, b) => a + b, 0);
  const total = weights.reduce((a, b) => a + b, 0);
  const exact = weights.map((w) => (total > 0 ? (rest * w) / total : rest / weights.length));
  const counts = exact.map((e, i) => firsts[i]! + Math.floor(e));
  let left = n - counts.reduce((a, b) => a + b, 0);
  const order = exact.map((e, i) => [e - Math.floor(e), i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (const [, i] of order) {
    if (left <= 0) break;
    counts[i]!++;
    left--;
  }
  return counts;
}
