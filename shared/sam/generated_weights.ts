// Seeded stand-in SAM weights for when no checkpoint is given (the demo job) and for benchmarks of
// variants we have no checkpoint of: every key of expectedShapes() with fan-in scaled, roughly normal
// values, LayerNorm weights 1 and biases 0, so activations stay O(1). Cheap: a xorshift PRNG.

import { expectedShapes } from './checkpoint.js';
import type { SamConfig } from './config.js';
import type { StateDict } from './params.js';
import type { HostTensor } from '../tensor/host_tensor.js';

/** LayerNorm / LayerNorm2d parameters of SAM (weight -> 1, bias -> 0). */
const LAYER_NORM = [/\.norm[^.]*\.(weight|bias)$/, /\.neck\.[13]\./, /\.mask_downscaling\.[14]\./, /\.output_upscaling\.1\./];

export function isLayerNorm(key: string): boolean {
  return LAYER_NORM.some((re) => re.test(key));
}

/** Fills `out` with sum-of-two-uniforms values (triangular: mean 0, standard deviation `std`). */
function fillNormalish(out: Float32Array, std: number, state: { s: number }): void {
  // Sum of two U(-a, a) has variance 2a^2/3, so a = std * sqrt(3/2).
  const a = std * Math.sqrt(1.5);
  const scale = a / 2147483648; // int32 -> [-a, a)
  let s = state.s | 0 || 1;
  for (let i = 0; i < out.length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    const u1 = s;
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = (u1 + s) * scale;
  }
  state.s = s;
}

/** A state_dict with every key and shape of `cfg`, values seeded by `seed`. */
export function generateStateDict(cfg: SamConfig, seed = 1): Map<string, HostTensor> {
  const state = { s: (seed * 2654435761) | 0 || 1 };
  const out = new Map<string, HostTensor>();
  for (const [key, shape] of expectedShapes(cfg)) {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    if (isLayerNorm(key)) {
      if (key.endsWith('.weight')) data.fill(1);
    } else if (key.endsWith('.bias')) {
      // zeros
    } else if (key.includes('rel_pos') || key.endsWith('pos_embed')) {
      fillNormalish(data, 0.02, state);
    } else if (shape.length >= 2) {
      // Linear [out, in], Conv [out, in, kh, kw], ConvTranspose [in, out, kh, kw]: 1/sqrt(fan-in)-ish.
      const fanIn = shape.slice(1).reduce((a, b) => a * b, 1);
      fillNormalish(data, 1 / Math.sqrt(fanIn), state);
    } else {
      fillNormalish(data, 0.02, state);
    }
    out.set(key, { shape: [...shape], data });
  }
  return out;
}

/** Total bytes of a state_dict's float32 data. */
export function stateBytes(state: StateDict): number {
  let n = 0;
  for (const t of state.values()) n += t.data.byteLength;
  return n;
}
