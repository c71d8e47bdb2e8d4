// The loss chart's trend: an exponential moving average of the per-step losses, which are noisy
// (each step is a different small batch), so that whether training still improves reads at a glance.

/** Weight of the newest loss: about the last 2 / alpha - 1 = 19 steps count. */
export const TREND_ALPHA = 0.1;

/**
 * The EMA after each value: the first finite value starts it; a non-finite one (a skipped step)
 * leaves it as it was; NaN before any finite value.
 */
export function lossTrend(values: readonly number[], alpha = TREND_ALPHA): number[] {
  let ema = Number.NaN;
  return values.map((v) => {
    if (Number.isFinite(v)) ema = Number.isNaN(ema) ? v : ema + alpha * (v - ema);
    return ema;
  });
}
