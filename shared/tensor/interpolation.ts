// PyTorch's linear interpolation taps (align_corners = false, no antialias): output index o reads
// source max(0, (o + 0.5) * in / out - 0.5), split between its floor i0 and i1 = min(i0 + 1, in - 1).
// Shared by the graph's bilinear resize matrices and the host-side resizers.

export interface LinearTaps {
  i0: Int32Array;
  i1: Int32Array;
  /** Weight of i1 (i0 gets 1 - l1). */
  l1: Float64Array;
}

export function linearTaps(inSize: number, outSize: number): LinearTaps {
  const i0 = new Int32Array(outSize);
  const i1 = new Int32Array(outSize);
  const l1 = new Float64Array(outSize);
  const scale = inSize / outSize;
  for (let o = 0; o < outSize; o++) {
    const src = Math.max(scale * (o + 0.5) - 0.5, 0);
    const a = Math.min(Math.floor(src), inSize - 1);
    i0[o] = a;
    i1[o] = a < inSize - 1 ? a + 1 : a;
    l1[o] = src - a;
  }
  return { i0, i1, l1 };
}
