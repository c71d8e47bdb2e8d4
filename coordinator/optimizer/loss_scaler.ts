// Dynamic loss scaling for fp16 training graphs (PyTorch's GradScaler arithmetic): the graph
// differentiates loss * scale so that small fp16 gradients do not flush to zero; the coordinator
// divides the summed gradients by the scale before Adam. A step whose gradients hold an Inf or NaN
// overflowed: it is skipped (no Adam update) and the scale halved; after `growthInterval` good steps
// in a row the scale doubles. The state is a plain object for checkpoints and metrics.

import { allFinite } from './grad_clip.js';

export interface LossScalerOptions {
  initialScale: number;
  growthFactor: number;
  backoffFactor: number;
  growthInterval: number;
  /** The scale never goes below this (a run that still overflows there has a real Inf). */
  minScale: number;
}

export const LOSS_SCALER_DEFAULTS: Readonly<LossScalerOptions> = Object.freeze({ initialScale: 2 ** 16, growthFactor: 2, backoffFactor: 0.5, growthInterval: 2000, minScale: 1 });

export interface LossScalerState {
  scale: number;
  /** Good steps since the last change of the scale. */
  goodSteps: number;
  /** Steps skipped for overflow, in all. */
  skipped: number;
}

export type ScaleOutcome = { apply: true; grads: Map<string, Float32Array> } | { apply: false; reason: 'overflow' };

export class DynamicLossScaler {
  readonly opts: LossScalerOptions;
  private s: LossScalerState;

  constructor(opts: Partial<LossScalerOptions> = {}, state?: LossScalerState) {
    this.opts = { ...LOSS_SCALER_DEFAULTS, ...opts };
    const o = this.opts;
    if (!(o.initialScale >= o.minScale && o.minScale > 0 && o.growthFactor > 1 && o.backoffFactor > 0 && o.backoffFactor < 1 && Number.isInteger(o.growthInterval) && o.growthInterval >= 1)) {
      throw new Error(`loss scaler: invalid options ${JSON.stringify(o)}`);
    }
    if (state && !(Number.isFinite(state.scale) && state.scale >= o.minScale && Number.isInteger(state.goodSteps) && state.goodSteps >= 0 && Number.isInteger(state.skipped) && state.skipped >= 0)) {
      throw new Error(`loss scaler: invalid state ${JSON.stringify(state)}`);
    }
    this.s = state ? { ...state } : { scale: o.initialScale, goodSteps: 0, skipped: 0 };
  }

  /** The scale the next step's graph runs must use. */
  get scale(): number {
    return this.s.scale;
  }

  get state(): LossScalerState {
    return { ...this.s };
  }

  /** Whether the scale is at its floor (an overflow there is no longer the scale's doing). */
  get atMinScale(): boolean {
    return this.s.scale <= this.opts.minScale;
  }

  /**
   * Takes the step's gradients of loss * scale: unscaled copies to apply, or 'overflow' (skip the
   * step). Either way the scale for the next step is updated.
   */
  update(scaledGrads: ReadonlyMap<string, Float32Array>): ScaleOutcome {
    if (!allFinite(scaledGrads)) {
      this.overflowed();
      return { apply: false, reason: 'overflow' };
    }
    const inv = 1 / this.s.scale;
    const grads = new Map([...scaledGrads].map(([k, g]) => [k, g.map((x) => x * inv)]));
    this.good();
    return { apply: true, grads };
  }

  /**
   * update() without copies: unscales `scaledGrads` in place and returns true, or returns false
   * (overflow: the step is skipped, the arrays are left as they were).
   */
  unscaleInPlace(scaledGrads: Map<string, Float32Array>): boolean {
    if (!allFinite(scaledGrads)) {
      this.overflowed();
      return false;
    }
    const inv = 1 / this.s.scale;
    for (const g of scaledGrads.values()) for (let i = 0; i < g.length; i++) g[i] = g[i]! * inv;
    this.good();
    return true;
  }

  /** An overflow seen elsewhere (a worker reported one): skip the step, halve the scale. */
  overflowed(): void {
    this.s = { scale: Math.max(this.opts.minScale, this.s.scale * this.opts.backoffFactor), goodSteps: 0, skipped: this.s.skipped + 1 };
  }

  private good(): void {
    const good = this.s.goodSteps + 1;
    this.s = good >= this.opts.growthInterval ? { scale: this.s.scale * this.opts.growthFactor, goodSteps: 0, skipped: this.s.skipped } : { ...this.s, goodSteps: good };
  }
}
