// A rate over a recent window (images per second over the last minute): amounts recorded with the
// time their interval ended and began, read at scrape time, so a stalled run decays to 0 instead of
// showing its last speed forever. Bounded: entries older than the window are dropped.

export class RecentRate {
  private entries: { end: number; amount: number }[] = [];
  /** Start of the first interval recorded (the rate is not diluted by the time before training). */
  private firstStart: number | undefined;

  /** @param windowSeconds the window; @param maxEntries bound on memory for very fast steps. */
  constructor(
    private readonly windowSeconds = 60,
    private readonly maxEntries = 4096,
  ) {}

  /** Records `amount` over the interval that started `durationSeconds` before `end` (seconds). */
  record(end: number, durationSeconds: number, amount: number): void {
    this.firstStart ??= end - Math.max(0, durationSeconds);
    this.entries.push({ end, amount });
    if (this.entries.length > this.maxEntries) this.entries.splice(0, this.entries.length - this.maxEntries);
  }

  /** Amount per second over the window ending at `now` (0 before anything was recorded). */
  rate(now: number): number {
    const from = now - this.windowSeconds;
    this.entries = this.entries.filter((e) => e.end > from);
    if (this.firstStart === undefined || this.entries.length === 0) return 0;
    const span = Math.min(this.windowSeconds, now - this.firstStart);
    if (!(span > 0)) return 0;
    return this.entries.reduce((a, e) => a + e.amount, 0) / span;
  }
}
