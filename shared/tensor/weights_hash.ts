// A digest of a set of named tensors (sorted by name: key, length, bytes), so the coordinator can
// check that every worker holds exactly its weights.

import { createHash } from 'node:crypto';

export function weightsHash(params: ReadonlyMap<string, Float32Array>): string {
  const h = createHash('sha256');
  for (const key of [...params.keys()].sort()) {
    const t = params.get(key)!;
    h.update(key);
    h.update(String(t.length));
    h.update(new Uint8Array(t.buffer, t.byteOffset, t.byteLength));
  }
  return h.digest('hex');
}

const lastHashed = new WeakMap<ReadonlyMap<string, Float32Array>, { version: number; hash: string }>();

/**
 * weightsHash of a version of weights that are updated in place, computed once per version
 * whoever asks (the training loop checks results against it, the broadcast sends it along). The
 * caller's promise: `params` holds one set of values per version number.
 */
export function versionHash(params: ReadonlyMap<string, Float32Array>, version: number): string {
  const hit = lastHashed.get(params);
  if (hit?.version === version) return hit.hash;
  const hash = weightsHash(params);
  lastHashed.set(params, { version, hash });
  return hash;
}
