// Host-side tensor: what every loader returns and every writer accepts.
// Everything is converted to float32 at load time, so the type carries no dtype; HostDType names
// the on-disk element types the loaders understand.

export type HostDType = 'float32' | 'float16' | 'bfloat16' | 'int64' | 'int32' | 'uint8' | 'bool' | 'float64';

export interface HostTensor {
  shape: readonly number[];
  data: Float32Array;
}

/** Bytes per element of each on-disk dtype. */
export const DTYPE_BYTES: Readonly<Record<HostDType, number>> = {
  float32: 4,
  float16: 2,
  bfloat16: 2,
  int64: 8,
  int32: 4,
  uint8: 1,
  bool: 1,
  float64: 8,
};

/** Number of elements of a shape ([] is a scalar: 1). Throws on a negative or fractional dim. */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) {
      throw new Error(`invalid tensor shape [${shape.join(', ')}]: dimension ${String(d)} is not a non-negative integer`);
    }
    n *= d;
  }
  if (!Number.isSafeInteger(n)) throw new Error(`invalid tensor shape [${shape.join(', ')}]: too many elements`);
  return n;
}

/** Builds a HostTensor, zero-filled when no data is given; data must hold exactly numel(shape) values. */
export function hostTensor(shape: readonly number[], data?: Float32Array | readonly number[]): HostTensor {
  const n = numel(shape);
  if (data === undefined) return { shape: [...shape], data: new Float32Array(n) };
  if (data.length !== n) {
    throw new Error(`tensor data has ${data.length} elements but shape [${shape.join(', ')}] needs ${n}`);
  }
  return { shape: [...shape], data: data instanceof Float32Array ? data : Float32Array.from(data) };
}
