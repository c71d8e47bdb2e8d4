// The loss scale of a step assignment against the graph a worker built: an fp16 graph needs a
// finite, positive scale (it is a graph input), an fp32 graph has none. Both ends check it: the
// worker before it runs a step, the coordinator's wire code on what it receives.

import type { Precision } from '../config/index.js';

/** Undefined when `lossScale` fits a graph of `precision`; otherwise why not. */
export function lossScaleProblem(precision: Precision, lossScale: number | undefined): string | undefined {
  if (precision === 'fp32') return lossScale === undefined ? undefined : `a loss scale (${lossScale}) for an fp32 training graph, which has no loss_scale input`;
  if (lossScale === undefined) return 'no loss scale for an fp16 training graph (runtime.precision: fp16 needs one with every step)';
  return Number.isFinite(lossScale) && lossScale > 0 ? undefined : `loss scale ${lossScale} is not a finite positive number`;
}
