// Adam / AdamW over named Float32Array parameters, matching torch.optim.Adam(W) arithmetic.

export interface AdamOptions {
  lr: number;
  betas: [number, number];
  eps: number;
  weightDecay: number;
  /** true: decoupled weight decay (AdamW); false: L2 added to the gradient (Adam). */
  decoupled: boolean;
}

export const ADAM_DEFAULTS: AdamOptions = { lr: 1e-4, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, decoupled: false };

export interface AdamState {
  step: number;
  m: Map<string, Float32Array>;
  v: Map<string, Float32Array>;
}

export class Adam {
  readonly opts: AdamOptions;
  state: AdamState = { step: 0, m: new Map(), v: new Map() };

  constructor(opts: Partial<AdamOptions> = {}) {
    this.opts = { ...ADAM_DEFAULTS, ...opts };
  }

  /**
   * Updates params in place; lr may be overridden per step by a schedule. The step is computed
   * once without writing anything: when a new parameter or moment value would be non-finite (a
   * huge but finite gradient overflows the second moment in float32), nothing is written, the step
   * count stays, and the tensor at fault is returned. So the state never holds Inf or NaN.
   */
  step(params: Map<string, Float32Array>, grads: ReadonlyMap<string, Float32Array>, lr = this.opts.lr): AdamStepOutcome {
    const t = this.state.step + 1;
    const { betas, eps, weightDecay, decoupled } = this.opts;
    const k: StepConstants = {
      b1: betas[0],
      b2: betas[1],
      eps,
      stepSize: lr / (1 - betas[0] ** t),
      bc2Sqrt: Math.sqrt(1 - betas[1] ** t),
      // Decoupled decay scales the weights; L2 decay adds to the gradient (0 and 1: no decay).
      decay: decoupled ? 1 - lr * weightDecay : 1,
      l2: decoupled ? 0 : weightDecay,
    };
    // Moments of a tensor's first step start as zeros, kept only if the step is applied.
    const moments = new Map<string, { m: Float32Array; v: Float32Array }>();
    for (const [key, p] of params) {
      const g = grads.get(key);
      if (!g) throw new Error(`adam: no gradient for ${key}`);
      if (g.length !== p.length) throw new Error(`adam: gradient for ${key} has ${g.length} values, parameter has ${p.length}`);
      const m = this.state.m.get(key) ?? new Float32Array(p.length);
      const v = this.state.v.get(key) ?? new Float32Array(p.length);
      if (!staysFinite(p, g, m, v, k)) return { applied: false, tensor: key };
      moments.set(key, { m, v });
    }
    this.state.step = t;
    for (const [key, p] of params) {
      const { m, v } = moments.get(key)!;
      this.state.m.set(key, m);
      this.state.v.set(key, v);
      apply(p, grads.get(key)!, m, v, k);
    }
    return { applied: true };
  }
}

interface StepConstants {
  b1: number;
  b2: number;
  eps: number;
  stepSize: number;
  bc2Sqrt: number;
  decay: number;
  l2: number;
}

// The update, in float32 as stored (torch.optim arithmetic). Two small monomorphic loops, one that
// only checks and one that writes, so each compiles to a tight loop. `z += x * 0` stays 0 for finite
// x and turns NaN otherwise: a check without a branch per element.

/** Whether every new weight and moment of this tensor would be finite. */
function staysFinite(p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, k: StepConstants): boolean {
  const { b1, b2, eps, stepSize, bc2Sqrt, decay, l2 } = k;
  const f = Math.fround;
  let z = 0;
  for (let i = 0; i < p.length; i++) {
    const pd = f(p[i]! * decay);
    const gi = g[i]! + l2 * p[i]!;
    const mi = f(b1 * m[i]! + (1 - b1) * gi);
    const vi = f(b2 * v[i]! + (1 - b2) * gi * gi);
    const pi = f(pd - (stepSize * mi) / (Math.sqrt(vi) / bc2Sqrt + eps));
    z += mi * 0 + vi * 0 + pi * 0;
  }
  return z === 0;
}

function apply(p: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, k: StepConstants): void {
  const { b1, b2, eps, stepSize, bc2Sqrt, decay, l2 } = k;
  for (let i = 0; i < p.length; i++) {
    const pd = Math.fround(p[i]! * decay);
    const gi = g[i]! + l2 * p[i]!;
    m[i] = b1 * m[i]! + (1 - b1) * gi;
    v[i] = b2 * v[i]! + (1 - b2) * gi * gi;
    p[i] = pd - (stepSize * m[i]!) / (Math.sqrt(v[i]!) / bc2Sqrt + eps);
  }
}

/** Whether an optimizer step was taken; when not, the first tensor whose update would be non-finite. */
export type AdamStepOutcome = { applied: true } | { applied: false; tensor: string };
