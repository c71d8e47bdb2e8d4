// Global-norm gradient clipping (torch.nn.utils.clip_grad_norm_ semantics).

/** Scales grads in place so their global L2 norm is at most maxNorm; returns the norm before clipping. */
export function clipGradNorm(grads: ReadonlyMap<string, Float32Array>, maxNorm: number): number {
  let sq = 0;
  for (const g of grads.values()) for (let i = 0; i < g.length; i++) sq += g[i]! * g[i]!;
  const norm = Math.sqrt(sq);
  if (maxNorm > 0 && norm > maxNorm) {
    const scale = maxNorm / (norm + 1e-6);
    for (const g of grads.values()) for (let i = 0; i < g.length; i++) g[i] = g[i]! * scale;
  }
  return norm;
}

/** True when every gradient value is finite. */
export function allFinite(grads: ReadonlyMap<string, Float32Array>): boolean {
  for (const g of grads.values()) for (let i = 0; i < g.length; i++) if (!Number.isFinite(g[i]!)) return false;
  return true;
}
