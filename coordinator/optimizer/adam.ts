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

  /** Updates params in place; lr may be overridden per step by a schedule. */
  step(params: Map<string, Float32Array>, grads: ReadonlyMap<string, Float32Array>, lr = this.opts.lr): void {
    const { betas, eps, weightDecay, decoupled } = this.opts;
    const [b1, b2] = betas;
    const t = ++this.state.step;
    const bc1 = 1 - b1 ** t;
    const bc2Sqrt = Math.sqrt(1 - b2 ** t);
    for (const [key, p] of params) {
      const g = grads.get(key);
      if (!g) throw new Error(`adam: no gradient for ${key}`);
      if (g.length !== p.length) throw new Error(`adam: gradient for ${key} has ${g.length} values, parameter has ${p.length}`);
      let m = this.state.m.get(key);
      let v = this.state.v.get(key);
      if (!m || !v) {
        m = new Float32Array(p.length);
        v = new Float32Array(p.length);
        this.state.m.set(key, m);
        this.state.v.set(key, v);
      }
      const stepSize = lr / bc1;
      for (let i = 0; i < p.length; i++) {
        let gi = g[i]!;
        if (weightDecay !== 0) {
          if (decoupled) p[i] = p[i]! * (1 - lr * weightDecay);
          else gi += weightDecay * p[i]!;
        }
        m[i] = b1 * m[i]! + (1 - b1) * gi;
        v[i] = b2 * v[i]! + (1 - b2) * gi * gi;
        const denom = Math.sqrt(v[i]!) / bc2Sqrt + eps;
        p[i] = p[i]! - (stepSize * m[i]!) / denom;
      }
    }
  }
}
