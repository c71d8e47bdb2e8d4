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
    const k = { lr, stepSize: lr / (1 - this.opts.betas[0] ** t), bc2Sqrt: Math.sqrt(1 - this.opts.betas[1] ** t) };
    for (const [key, p] of params) {
      const g = grads.get(key);
      if (!g) throw new Error(`adam: no gradient for ${key}`);
      if (g.length !== p.length) throw new Error(`adam: gradient for ${key} has ${g.length} values, parameter has ${p.length}`);
      const m = this.state.m.get(key);
      const v = this.state.v.get(key);
      if (!this.update(p, g, m && v ? { m, v } : undefined, k, false)) return { applied: false, tensor: key };
    }
    this.state.step = t;
    for (const [key, p] of params) {
      let m = this.state.m.get(key);
      let v = this.state.v.get(key);
      if (!m || !v) {
        m = new Float32Array(p.length);
        v = new Float32Array(p.length);
        this.state.m.set(key, m);
        this.state.v.set(key, v);
      }
      this.update(p, grads.get(key)!, { m, v }, k, true);
    }
    return { applied: true };
  }

  /**
   * One tensor's update, in float32 as stored. `write` false: only says whether every new value
   * would be finite (absent moments count as zeros). `z += x * 0` stays 0 for finite x and turns
   * NaN otherwise: a check without a branch per element.
   */
  private update(p: Float32Array, g: Float32Array, mv: { m: Float32Array; v: Float32Array } | undefined, k: { lr: number; stepSize: number; bc2Sqrt: number }, write: boolean): boolean {
    const { betas, eps, weightDecay, decoupled } = this.opts;
    const [b1, b2] = betas;
    const f = Math.fround;
    let z = 0;
    for (let i = 0; i < p.length; i++) {
      let gi = g[i]!;
      let pi = p[i]!;
      if (weightDecay !== 0) {
        if (decoupled) pi = f(pi * (1 - k.lr * weightDecay));
        else gi += weightDecay * pi;
      }
      const mi = f(b1 * (mv ? mv.m[i]! : 0) + (1 - b1) * gi);
      const vi = f(b2 * (mv ? mv.v[i]! : 0) + (1 - b2) * gi * gi);
      const denom = Math.sqrt(vi) / k.bc2Sqrt + eps;
      pi = f(pi - (k.stepSize * mi) / denom);
      if (write) {
        mv!.m[i] = mi;
        mv!.v[i] = vi;
        p[i] = pi;
      } else {
        z += mi * 0 + vi * 0 + pi * 0;
      }
    }
    return z === 0;
  }
}

/** Whether an optimizer step was taken; when not, the first tensor whose update would be non-finite. */
export type AdamStepOutcome = { applied: true } | { applied: false; tensor: string };
