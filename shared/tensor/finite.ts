// Refusing weights that are not numbers: a checkpoint or LoRA holding NaN or Inf loads "fine" and
// then produces NaN everywhere (predict printed iou: null with exit 0), so loaders check at load.

import type { HostTensor } from './host_tensor.js';

/** Index of the first NaN/Inf element, or -1. One multiply-add per element unless one is there. */
export function firstNonFiniteIndex(a: Float32Array): number {
  let probe = 0;
  for (let i = 0; i < a.length; i++) probe += a[i]! * 0; // x * 0 is NaN exactly when x is NaN or infinite
  if (probe === 0) return -1;
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i]!)) return i;
  return -1;
}

export class NonFiniteWeightsError extends Error {
  constructor(
    readonly file: string,
    readonly tensor: string,
    readonly index: number,
    value: number,
  ) {
    super(`${file}: tensor "${tensor}" holds a non-finite value (${value} at element ${index}); refusing weights that are not numbers`);
    this.name = 'NonFiniteWeightsError';
  }
}

/** Throws a NonFiniteWeightsError naming the first tensor (in map order) with a NaN or infinite element. */
export function refuseNonFinite(tensors: ReadonlyMap<string, HostTensor>, file: string, nameOf: (key: string) => string = (k) => k): void {
  for (const [key, t] of tensors) {
    const i = firstNonFiniteIndex(t.data);
    if (i >= 0) throw new NonFiniteWeightsError(file, nameOf(key), i, t.data[i]!);
  }
}
