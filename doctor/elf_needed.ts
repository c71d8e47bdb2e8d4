// The shared libraries an ELF64 little-endian library asks the dynamic loader for (its DT_NEEDED
// entries), read from the file without loading it: loading a CUDA provider whose dependencies are
// missing only says the first one that is. Reads a few small ranges; every offset is bounds-checked.

import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const DT_NULL = 0n;
const DT_NEEDED = 1n;
const DT_STRTAB = 5n;
const DT_STRSZ = 10n;
/** More would not be a library's dynamic section. */
const MAX_DYNAMIC_BYTES = 1 << 20;
const MAX_PHDRS = 4096;

export class ElfError extends Error {
  constructor(file: string, detail: string) {
    super(`${file}: not a readable ELF64 library (${detail})`);
    this.name = 'ElfError';
  }
}

/** DT_NEEDED sonames of `file`, in order. */
export function elfNeeded(file: string): string[] {
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    const read = (offset: number | bigint, length: number, what: string): Buffer => {
      const at = Number(offset);
      if (!Number.isSafeInteger(at) || at < 0 || length < 0 || at + length > size) throw new ElfError(file, `${what} at ${String(offset)}+${length} lies outside the ${size}-byte file`);
      const buf = Buffer.alloc(length);
      if (readSync(fd, buf, 0, length, at) !== length) throw new ElfError(file, `short read of ${what}`);
      return buf;
    };
    const h = read(0, 64, 'the header');
    if (h.readUInt32BE(0) !== 0x7f454c46) throw new ElfError(file, 'no ELF magic');
    if (h[4] !== 2 || h[5] !== 1) throw new ElfError(file, 'not 64-bit little-endian');
    const phoff = h.readBigUInt64LE(32);
    const phentsize = h.readUInt16LE(54);
    const phnum = h.readUInt16LE(56);
    if (phentsize < 56 || phnum > MAX_PHDRS) throw new ElfError(file, `program header table of ${phnum} x ${phentsize} bytes`);
    const ph = read(phoff, phentsize * phnum, 'the program headers');
    const loads: { vaddr: bigint; offset: bigint; filesz: bigint }[] = [];
    let dynamic: { offset: bigint; filesz: bigint } | undefined;
    for (let i = 0; i < phnum; i++) {
      const o = i * phentsize;
      const type = ph.readUInt32LE(o);
      const entry = { offset: ph.readBigUInt64LE(o + 8), vaddr: ph.readBigUInt64LE(o + 16), filesz: ph.readBigUInt64LE(o + 32) };
      if (type === PT_LOAD) loads.push(entry);
      if (type === PT_DYNAMIC) dynamic = entry;
    }
    if (!dynamic) return []; // statically linked
    if (dynamic.filesz > BigInt(MAX_DYNAMIC_BYTES)) throw new ElfError(file, `dynamic section of ${dynamic.filesz} bytes`);
    const dyn = read(dynamic.offset, Number(dynamic.filesz), 'the dynamic section');
    const needed: bigint[] = [];
    let strtab: bigint | undefined;
    let strsz: bigint | undefined;
    for (let o = 0; o + 16 <= dyn.length; o += 16) {
      const tag = dyn.readBigInt64LE(o);
      const val = dyn.readBigUInt64LE(o + 8);
      if (tag === DT_NULL) break;
      if (tag === DT_NEEDED) needed.push(val);
      else if (tag === DT_STRTAB) strtab = val;
      else if (tag === DT_STRSZ) strsz = val;
    }
    if (needed.length === 0) return [];
    if (strtab === undefined || strsz === undefined || strsz > BigInt(MAX_DYNAMIC_BYTES)) throw new ElfError(file, 'no usable string table');
    // DT_STRTAB is an address: find the loaded segment that holds it.
    const seg = loads.find((l) => strtab! >= l.vaddr && strtab! + strsz! <= l.vaddr + l.filesz);
    if (!seg) throw new ElfError(file, 'the string table is in no loaded segment');
    const strings = read(seg.offset + (strtab - seg.vaddr), Number(strsz), 'the string table');
    return needed.map((off) => {
      const start = Number(off);
      const end = strings.indexOf(0, start);
      if (start >= strings.length || end < 0) throw new ElfError(file, `DT_NEEDED name at ${start} outside the string table`);
      return strings.toString('utf8', start, end);
    });
  } finally {
    closeSync(fd);
  }
}
