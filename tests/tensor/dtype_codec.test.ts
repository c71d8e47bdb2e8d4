import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  bfloat16ArrayToFloat32,
  bfloat16BitsToFloat32,
  float32ArrayToBfloat16,
  decodeToFloat32,
  float16BitsToFloat32,
  float32ToBfloat16Bits,
  float32ToFloat16Bits,
  float32ToLittleEndianBytes,
} from '../../shared/tensor/dtype_codec.js';

const f32 = (x: number): number => Math.fround(x);

describe('float16', () => {
  it('decodes landmark values exactly', () => {
    const cases: [number, number][] = [
      [0x0000, 0],
      [0x3c00, 1],
      [0xc000, -2],
      [0x3555, f32(0.333251953125)],
      [0x7bff, 65504], // largest finite
      [0x0400, 2 ** -14], // smallest normal
      [0x0001, 2 ** -24], // smallest subnormal
      [0x03ff, 1023 * 2 ** -24], // largest subnormal
      [0x8001, -(2 ** -24)],
      [0x7c00, Infinity],
      [0xfc00, -Infinity],
    ];
    for (const [bits, value] of cases) assert.equal(float16BitsToFloat32(bits), value, `0x${bits.toString(16)}`);
    assert.ok(Object.is(float16BitsToFloat32(0x8000), -0));
    assert.ok(Number.isNaN(float16BitsToFloat32(0x7e00)));
    assert.ok(Number.isNaN(float16BitsToFloat32(0xfd01)));
  });

  it('round-trips all 65536 bit patterns (NaNs stay NaN)', () => {
    for (let h = 0; h < 0x10000; h++) {
      const v = float16BitsToFloat32(h);
      const back = float32ToFloat16Bits(v);
      if (Number.isNaN(v)) assert.ok(Number.isNaN(float16BitsToFloat32(back)), `0x${h.toString(16)}`);
      else assert.equal(back, h, `0x${h.toString(16)}`);
    }
  });

  it('rounds to nearest even, overflows to inf and underflows through subnormals', () => {
    assert.equal(float32ToFloat16Bits(1 + 2 ** -11), 0x3c00); // tie -> even
    assert.equal(float32ToFloat16Bits(1 + 3 * 2 ** -11), 0x3c02); // tie -> even (up)
    assert.equal(float32ToFloat16Bits(1 + 2 ** -11 + 2 ** -20), 0x3c01); // above the tie
    assert.equal(float32ToFloat16Bits(65519), 0x7bff);
    assert.equal(float32ToFloat16Bits(65520), 0x7c00); // tie between 65504 and 2^16 -> inf
    assert.equal(float32ToFloat16Bits(1e10), 0x7c00);
    assert.equal(float32ToFloat16Bits(-1e10), 0xfc00);
    assert.equal(float32ToFloat16Bits(2 ** -25), 0x0000); // tie between 0 and 2^-24 -> 0
    assert.equal(float32ToFloat16Bits(2 ** -25 * 1.01), 0x0001);
    assert.equal(float32ToFloat16Bits(3 * 2 ** -25), 0x0002); // tie -> even
    assert.equal(float32ToFloat16Bits(2 ** -14 - 2 ** -26), 0x0400); // rounds up into the normals
    assert.equal(float32ToFloat16Bits(1e-30), 0x0000);
    assert.equal(float32ToFloat16Bits(-1e-30), 0x8000);
    assert.equal(float32ToFloat16Bits(Infinity), 0x7c00);
    assert.ok(Number.isNaN(float16BitsToFloat32(float32ToFloat16Bits(NaN))));
  });
});

describe('bfloat16', () => {
  it('decodes and round-trips all bit patterns', () => {
    assert.equal(bfloat16BitsToFloat32(0x3f80), 1);
    assert.equal(bfloat16BitsToFloat32(0xc040), -3);
    assert.equal(bfloat16BitsToFloat32(0x0001), 2 ** -133); // subnormal
    assert.equal(bfloat16BitsToFloat32(0x7f80), Infinity);
    assert.ok(Number.isNaN(bfloat16BitsToFloat32(0x7fc0)));
    for (let h = 0; h < 0x10000; h++) {
      const v = bfloat16BitsToFloat32(h);
      const back = float32ToBfloat16Bits(v);
      if (Number.isNaN(v)) assert.ok(Number.isNaN(bfloat16BitsToFloat32(back)));
      else assert.equal(back, h, `0x${h.toString(16)}`);
    }
  });

  it('rounds to nearest even', () => {
    assert.equal(float32ToBfloat16Bits(1 + 2 ** -8), 0x3f80); // tie -> even
    assert.equal(float32ToBfloat16Bits(1 + 3 * 2 ** -8), 0x3f82); // tie -> even (up)
    assert.equal(float32ToBfloat16Bits(1 + 2 ** -8 + 2 ** -20), 0x3f81);
    assert.equal(float32ToBfloat16Bits(3.4028234663852886e38), 0x7f80); // max float32 -> inf
    assert.equal(float32ToBfloat16Bits(-0), 0x8000);
    // A NaN whose payload lives only in the low half must not turn into inf.
    const bits = new Uint32Array([0x7f800001]);
    assert.ok(Number.isNaN(bfloat16BitsToFloat32(float32ToBfloat16Bits(new Float32Array(bits.buffer)[0]))));
  });
});

describe('bulk bfloat16', () => {
  it('agrees bit for bit with the per-value codec, specials and ties included', () => {
    const bits = new Uint32Array([0x7f800001, 0xff800001, 0x7fc00000, 0x7f800000, 0xff800000, 0x7f7fffff, 0xff7fffff, 0x00000001, 0x80000000, 0, 0x3f808000, 0x3f818000, 0x3f808001]);
    const special = new Float32Array(bits.buffer);
    const random = Float32Array.from({ length: 4096 }, (_, i) => Math.sin(i * 12.9898) * 10 ** ((i % 40) - 20));
    for (const src of [special, random]) {
      const bulk = new Uint16Array(src.length);
      float32ArrayToBfloat16(src, bulk);
      assert.deepEqual([...bulk], [...src].map((x) => float32ToBfloat16Bits(x)));
      const back = new Float32Array(src.length + 3);
      bfloat16ArrayToFloat32(bulk, back, 3);
      [...bulk].forEach((h, i) => assert.ok(Object.is(back[i + 3], bfloat16BitsToFloat32(h)) || (Number.isNaN(back[i + 3]) && Number.isNaN(bfloat16BitsToFloat32(h)))));
    }
  });
});

describe('decodeToFloat32', () => {
  const le = (arr: ArrayBufferView): Uint8Array => new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength);

  it('converts each dtype', () => {
    assert.deepEqual([...decodeToFloat32(le(Float32Array.from([1.5, -2])), 'float32')], [1.5, -2]);
    assert.deepEqual([...decodeToFloat32(le(Float64Array.from([0.1, 1e40])), 'float64')], [f32(0.1), Infinity]);
    assert.deepEqual([...decodeToFloat32(le(Uint16Array.from([0x3c00, 0x0001, 0xfc00])), 'float16')], [1, 2 ** -24, -Infinity]);
    assert.deepEqual([...decodeToFloat32(le(Uint16Array.from([0x3f80, 0xc040])), 'bfloat16')], [1, -3]);
    assert.deepEqual([...decodeToFloat32(le(BigInt64Array.from([-7n, 2n ** 40n])), 'int64')], [-7, 2 ** 40]);
    assert.deepEqual([...decodeToFloat32(le(Int32Array.from([-5, 9])), 'int32')], [-5, 9]);
    assert.deepEqual([...decodeToFloat32(Uint8Array.from([0, 255]), 'uint8')], [0, 255]);
    assert.deepEqual([...decodeToFloat32(Uint8Array.from([0, 1, 7]), 'bool')], [0, 1, 1]);
  });

  it('handles unaligned input, big-endian input, and never aliases', () => {
    const buf = new Uint8Array(9);
    buf.set(le(Float32Array.from([3, 4])), 1);
    const out = decodeToFloat32(buf.subarray(1), 'float32');
    assert.deepEqual([...out], [3, 4]);
    out[0] = 9;
    assert.deepEqual([...new Float32Array(buf.slice(1).buffer)], [3, 4]);
    const be = new Uint8Array(4);
    new DataView(be.buffer).setFloat32(0, -1.25, false);
    assert.deepEqual([...decodeToFloat32(be, 'float32', false)], [-1.25]);
  });

  it('rejects a partial element', () => {
    assert.throws(() => decodeToFloat32(new Uint8Array(6), 'float32'), /not a whole number of float32 elements/);
  });

  it('encodes float32 as little-endian bytes', () => {
    const bytes = float32ToLittleEndianBytes(Float32Array.from([1]));
    assert.deepEqual([...bytes], [0, 0, 0x80, 0x3f]);
  });
});
