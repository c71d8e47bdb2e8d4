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
