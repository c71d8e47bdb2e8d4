// A minimal ELF64 little-endian shared library (header, one PT_LOAD, a PT_DYNAMIC with DT_NEEDED
// entries and its string table) for the doctor's tests: a stand-in CUDA provider on hosts without one.

import { writeFileSync } from 'node:fs';

export function fakeElfLibrary(file: string, needed: readonly string[]): void {
  const strings = Buffer.concat([Buffer.from([0]), ...needed.map((n) => Buffer.from(`${n}\0`))]);
  const strOff = 64 + 2 * 56;
  const dynOff = Math.ceil((strOff + strings.length) / 8) * 8;
  const entries: [number, number][] = [];
  let at = 1;
  for (const n of needed) {
    entries.push([1, at]); // DT_NEEDED
    at += Buffer.byteLength(n) + 1;
  }
  entries.push([5, strOff], [10, strings.length], [0, 0]); // DT_STRTAB, DT_STRSZ, DT_NULL
  const total = dynOff + entries.length * 16;
  const b = Buffer.alloc(total);
  b.writeUInt32BE(0x7f454c46, 0);
  b[4] = 2; // ELFCLASS64
  b[5] = 1; // little-endian
  b[6] = 1;
  b.writeUInt16LE(3, 16); // ET_DYN
  b.writeUInt16LE(62, 18); // x86-64
  b.writeUInt32LE(1, 20);
  b.writeBigUInt64LE(64n, 32); // e_phoff
  b.writeUInt16LE(64, 52);
  b.writeUInt16LE(56, 54);
  b.writeUInt16LE(2, 56);
  const ph = (i: number, type: number, offset: number, size: number): void => {
    const o = 64 + i * 56;
    b.writeUInt32LE(type, o);
    b.writeBigUInt64LE(BigInt(offset), o + 8);
    b.writeBigUInt64LE(BigInt(offset), o + 16); // vaddr = offset
    b.writeBigUInt64LE(BigInt(offset), o + 24);
    b.writeBigUInt64LE(BigInt(size), o + 32);
    b.writeBigUInt64LE(BigInt(size), o + 40);
  };
  ph(0, 1, 0, total);
  ph(1, 2, dynOff, entries.length * 16);
  strings.copy(b, strOff);
  entries.forEach(([tag, val], i) => {
    b.writeBigInt64LE(BigInt(tag), dynOff + i * 16);
    b.writeBigUInt64LE(BigInt(val), dynOff + i * 16 + 8);
  });
  writeFileSync(file, b);
}
