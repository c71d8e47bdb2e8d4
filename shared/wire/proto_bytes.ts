// The few pieces of the protobuf wire format that hand-laid messages need (packed_tensors.ts):
// field tags and base-128 varints of non-negative integers up to 2^53.

export const VARINT = 0;
export const LENGTH_DELIMITED = 2;

/** The key byte of a field with a number below 16. */
export function tag(field: number, wireType: number): number {
  return (field << 3) | wireType;
}

export function varintSize(v: number): number {
  let n = 1;
  while (v >= 128) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

/** Writes v at buf[at]; returns the index after it. */
export function writeVarint(buf: Buffer, at: number, v: number): number {
  while (v >= 128) {
    buf[at++] = (v % 128) | 128;
    v = Math.floor(v / 128);
  }
  buf[at++] = v;
  return at;
}
