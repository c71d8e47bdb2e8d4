// Learning-rate schedule: linear warm-up, then constant or cosine decay to min_lr.

export interface ScheduleOptions {
  baseLr: number;
  warmupSteps: number;
  totalSteps: number;
  cosine: boolean;
  minLr: number;
}

/** Learning rate for optimizer step `step` (0-based). */
export function learningRate(o: ScheduleOptions, step: number): number {
  if (o.warmupSteps > 0 && step < o.warmupSteps) return (o.baseLr * (step + 1)) / o.warmupSteps;
  if (!o.cosine) return o.baseLr;
  const span = Math.max(1, o.totalSteps - o.warmupSteps);
  const progress = Math.min(1, Math.max(0, (step - o.warmupSteps) / span));
  return o.minLr + 0.5 * (o.baseLr - o.minLr) * (1 + Math.cos(Math.PI * progress));
}
