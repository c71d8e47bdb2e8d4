// SAM's decomposed relative-position tables. The tables are frozen weights, so the gather
// rel_pos[q - k + (k_size - 1)] is done once on the host and stored pre-laid-out for MatMul.

import type { HostTensor } from '../tensor/host_tensor.js';
import { linearTaps } from '../tensor/interpolation.js';

/** Linear interpolation of a [L, C] table to [outLen, C] (F.interpolate mode="linear", align_corners=False). */
function resizeTable(table: HostTensor, outLen: number): HostTensor {
  const [len, c] = table.shape as [number, number];
  const out = new Float32Array(outLen * c);
  const { i0, i1, l1 } = linearTaps(len, outLen);
  for (let o = 0; o < outLen; o++) {
    const a = i0[o]! * c;
    const b = i1[o]! * c;
    const w = l1[o]!;
    for (let j = 0; j < c; j++) out[o * c + j] = (1 - w) * table.data[a + j]! + w * table.data[b + j]!;
  }
  return { shape: [outLen, c], data: out };
}

/**
 * get_rel_pos(size, size, table) laid out as [size, C, size]: entry [q, :, k] is the table row for
 * relative position q - k, so rel = q_tokens [.., size, *, C] @ this gives the einsum "hkc" term.
 */
export function relPosMatrix(table: HostTensor, size: number): HostTensor {
  const need = 2 * size - 1;
  const t = table.shape[0] === need ? table : resizeTable(table, need);
  const c = t.shape[1]!;
  const out = new Float32Array(size * c * size);
  for (let q = 0; q < size; q++) {
    for (let k = 0; k < size; k++) {
      const row = q - k + size - 1;
      for (let j = 0; j < c; j++) out[(q * c + j) * size + k] = t.data[row * c + j]!;
    }
  }
  return { shape: [size, c, size], data: out };
}
