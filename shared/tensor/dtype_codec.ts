// Element codecs shared by the file readers: raw on-disk bytes of any HostDType -> float32, plus
// the float16 / bfloat16 bit conversions (Node 20 has no Float16Array).
import type { HostDType } from './host_tensor.js';
import { DTYPE_BYTES } from './host_tensor.js';

export const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** float16 bit pattern -> float32 value, exact (subnormals, ±0, ±inf and NaN payloads kept). */
export function float16BitsToFloat32(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) {
    // Zero or subnormal: mant * 2^-24 is exact in float32.
    const v = mant * 2 ** -24;
    return sign ? -v : v;
  }
  scratchU32[0] = exp === 0x1f
    ? (sign | 0x7f800000 | (mant << 13)) >>> 0
    : (sign | ((exp + 112) << 23) | (mant << 13)) >>> 0;
  return scratchF32[0];
}

/** float32 value -> float16 bit pattern, rounding to nearest even (overflow -> inf, NaN stays NaN). */
export function float32ToFloat16Bits(x: number): number {
  scratchF32[0] = x;
  const b = scratchU32[0];
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  const mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 | (mant >>> 13) : 0);
  const e = exp - 112; // rebias 127 -> 15
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // Result is subnormal (or zero): value in units of 2^-24 is M * 2^-(14 - e).
    const shift = 14 - e;
    if (shift > 24) return sign;
    const m = mant | 0x800000;
    let q = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && (q & 1) === 1)) q++;
    return sign | q; // a carry into 0x400 is the smallest normal, as it should be
  }
  let q = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (q & 1) === 1)) q++; // a carry may reach 0x7c00 = inf
  return sign | q;
}

/** bfloat16 bit pattern -> float32 value (exact: bfloat16 is the top half of a float32). */
export function bfloat16BitsToFloat32(h: number): number {
  scratchU32[0] = (h & 0xffff) << 16;
  return scratchF32[0];
}

/** float32 value -> bfloat16 bit pattern, rounding to nearest even (NaN stays a quiet NaN). */
export function float32ToBfloat16Bits(x: number): number {
  scratchF32[0] = x;
  const b = scratchU32[0];
  if ((b & 0x7f800000) === 0x7f800000 && (b & 0x7fffff) !== 0) return (b >>> 16) | 0x40;
  const lsb = (b >>> 16) & 1;
  return Math.floor((b + 0x7fff + lsb) / 0x10000) & 0xffff;
}

let f16Table: Float32Array | undefined;

// All 65536 half values, built once: turns bulk float16 decoding into a table lookup.
function float16Table(): Float32Array {
  if (f16Table === undefined) {
    f16Table = new Float32Array(0x10000);
    for (let h = 0; h < 0x10000; h++) f16Table[h] = float16BitsToFloat32(h);
  }
  return f16Table;
}

function byteSwapInPlace(bytes: Uint8Array, width: number): void {
  for (let i = 0; i < bytes.length; i += width) {
    for (let a = i, b = i + width - 1; a < b; a++, b--) {
      const t = bytes[a];
      bytes[a] = bytes[b];
      bytes[b] = t;
    }
  }
}

/**
 * Decodes a buffer of `dtype` elements stored with the given byte order into a new Float32Array.
 * The input is never aliased; bytes.length must be a multiple of the element size.
 */
export function decodeToFloat32(bytes: Uint8Array, dtype: HostDType, littleEndian = true): Float32Array {
  const width = DTYPE_BYTES[dtype];
  if (bytes.length % width !== 0) {
    throw new Error(`${bytes.length} bytes is not a whole number of ${dtype} elements (${width} bytes each)`);
  }
  const n = bytes.length / width;
  // Copy into a fresh, aligned buffer in host byte order so typed-array views can be used.
  const own = new Uint8Array(bytes.length);
  own.set(bytes);
  if (width > 1 && littleEndian !== HOST_LITTLE_ENDIAN) byteSwapInPlace(own, width);
  switch (dtype) {
    case 'float32':
      return new Float32Array(own.buffer, 0, n);
    case 'float64':
      return Float32Array.from(new Float64Array(own.buffer, 0, n));
    case 'float16': {
      const src = new Uint16Array(own.buffer, 0, n);
      const table = float16Table();
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = table[src[i]];
      return out;
    }
    case 'bfloat16': {
      const src = new Uint16Array(own.buffer, 0, n);
      const out = new Uint32Array(n);
      for (let i = 0; i < n; i++) out[i] = src[i] << 16;
      return new Float32Array(out.buffer);
    }
    case 'int64': {
      const src = new BigInt64Array(own.buffer, 0, n);
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = Number(src[i]);
      return out;
    }
    case 'int32':
      return Float32Array.from(new Int32Array(own.buffer, 0, n));
    case 'uint8':
      return Float32Array.from(own);
    case 'bool': {
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = own[i] !== 0 ? 1 : 0;
      return out;
    }
  }
}

/** float32 data as little-endian bytes (a view when the host is little-endian, else a swapped copy). */
export function float32ToLittleEndianBytes(data: Float32Array): Uint8Array {
  const view = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (HOST_LITTLE_ENDIAN) return view;
  const copy = Uint8Array.from(view);
  byteSwapInPlace(copy, 4);
  return copy;
}

/**
 * Bulk float32 -> bfloat16 (round to nearest even, NaN kept quiet) into `out` (little-endian bit
 * patterns in host order). Works on the bits through integer views: several times faster than the
 * per-value float32ToBfloat16Bits, which matters for the weights and gradients on the wire.
 */
export function float32ArrayToBfloat16(src: Float32Array, out: Uint16Array): void {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < bits.length; i++) {
    const b = bits[i]!;
    out[i] = (b & 0x7fffffff) > 0x7f800000 ? (b >>> 16) | 0x40 : (b + 0x7fff + ((b >>> 16) & 1)) >>> 16;
  }
}

/** Bulk bfloat16 bit patterns -> float32 into dst[offset ...]. */
export function bfloat16ArrayToFloat32(src: Uint16Array, dst: Float32Array, offset = 0): void {
  const bits = new Uint32Array(dst.buffer, dst.byteOffset + offset * 4, src.length);
  for (let i = 0; i < src.length; i++) bits[i] = src[i]! << 16;
}
