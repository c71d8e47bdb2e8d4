// Random-access reader for the zip container torch.save writes.
//
// Why not a library (yauzl etc.): torch's archives come from one known writer (miniz, entries stored
// uncompressed and 64-byte aligned), and all we need is the central directory plus positional reads
// of single entries straight into a buffer, for multi-GB files. That is ~150 lines with no
// dependencies, versus a stream-based API plus three packages. Zip64 is handled because >4 GB
// checkpoints exist; deflate is handled because Node's zlib makes it a one-liner.
import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';

const inflateRaw = promisify(zlib.inflateRaw);

const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_LOCAL = 0x04034b50;
const METHOD_STORED = 0;
const METHOD_DEFLATE = 8;
// fs reads are capped at 2 GiB - 1 per call; read big entries in pieces.
const READ_CHUNK = 1 << 30;

export interface ZipEntry {
  name: string;
  method: number;
  flags: number;
  crc32: number;
  compressedSize: number;
  uncompressedSize: number;
  localHeaderOffset: number;
}

export class ZipFormatError extends Error {
  constructor(readonly file: string, problem: string) {
    super(`${file}: invalid zip archive: ${problem}`);
    this.name = 'ZipFormatError';
  }
}

function u64(view: DataView, at: number, file: string, what: string): number {
  const v = view.getBigUint64(at, true);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ZipFormatError(file, `${what} ${v} is too large`);
  return Number(v);
}

function viewOf(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

export class ZipReader {
  private constructor(
    readonly file: string,
    private readonly fh: FileHandle,
    readonly size: number,
    readonly entries: ReadonlyMap<string, ZipEntry>,
  ) {}

  /** Opens `file` and reads its central directory. Close the reader when done. */
  static async open(file: string): Promise<ZipReader> {
    let fh: FileHandle;
    try {
      fh = await fsp.open(file, 'r');
    } catch (e) {
      throw new Error(`${file}: cannot open: ${(e as Error).message}`);
    }
    try {
      const size = (await fh.stat()).size;
      const entries = await readCentralDirectory(file, fh, size);
      return new ZipReader(file, fh, size, entries);
    } catch (e) {
      await fh.close();
      throw e;
    }
  }

  async close(): Promise<void> {
    await this.fh.close();
  }

  /** Reads `length` bytes at `position` into a fresh (aligned) buffer; fails on a short read. */
  async readAt(position: number, length: number): Promise<Uint8Array> {
    return readExactly(this.file, this.fh, position, length);
  }

  /**
   * The entry's uncompressed bytes, CRC-checked. The buffer is fresh and starts at byteOffset 0.
   * An entry whose size is over maxBytes (what the caller can use of it) is refused before anything
   * is read or inflated, and inflating never produces more than its declared size.
   */
  async read(entry: ZipEntry, maxBytes: number): Promise<Uint8Array> {
    const fail = (problem: string): ZipFormatError => new ZipFormatError(this.file, `entry "${entry.name}": ${problem}`);
    if (entry.uncompressedSize > maxBytes) throw fail(`is ${entry.uncompressedSize} bytes uncompressed, more than the ${maxBytes} it may have`);
    if (entry.method === METHOD_STORED && entry.compressedSize !== entry.uncompressedSize) {
      throw fail(`is stored (not compressed) but its sizes differ (${entry.compressedSize} and ${entry.uncompressedSize} bytes)`);
    }
    if ((entry.flags & 1) !== 0) throw fail('is encrypted');
    if (entry.method !== METHOD_STORED && entry.method !== METHOD_DEFLATE) {
      throw fail(`uses compression method ${entry.method}; only stored (0) and deflate (8) are supported`);
    }
    if (entry.localHeaderOffset + 30 > this.size) throw fail('local header is past the end of the file');
    const local = viewOf(await this.readAt(entry.localHeaderOffset, 30));
    if (local.getUint32(0, true) !== SIG_LOCAL) throw fail('bad local header signature');
    const dataStart = entry.localHeaderOffset + 30 + local.getUint16(26, true) + local.getUint16(28, true);
    if (dataStart + entry.compressedSize > this.size) {
      throw fail(`data [${dataStart}, ${dataStart + entry.compressedSize}) runs past the end of the file (${this.size} bytes): truncated?`);
    }
    let data = await this.readAt(dataStart, entry.compressedSize);
    if (entry.method === METHOD_DEFLATE) {
      try {
        const out = await inflateRaw(data, { maxOutputLength: Math.max(1, entry.uncompressedSize) });
        data = new Uint8Array(out.byteLength);
        data.set(out);
      } catch (e) {
        throw fail(`cannot inflate: ${(e as Error).message}`);
      }
    }
    if (data.length !== entry.uncompressedSize) {
      throw fail(`has ${data.length} bytes, central directory says ${entry.uncompressedSize}`);
    }
    if (zlib.crc32(data) >>> 0 !== entry.crc32) throw fail('CRC-32 mismatch: the file is corrupt');
    return data;
  }
}

async function readExactly(file: string, fh: FileHandle, position: number, length: number): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const { bytesRead } = await fh.read(out, done, Math.min(READ_CHUNK, length - done), position + done);
    if (bytesRead === 0) throw new ZipFormatError(file, `unexpected end of file at byte ${position + done}`);
    done += bytesRead;
  }
  return out;
}

async function readCentralDirectory(file: string, fh: FileHandle, size: number): Promise<Map<string, ZipEntry>> {
  // The end-of-central-directory record is 22 bytes plus a comment of at most 65535 bytes.
  const tailLen = Math.min(size, 22 + 0xffff);
  const tailStart = size - tailLen;
  const tail = await readExactly(file, fh, tailStart, tailLen);
  const tv = viewOf(tail);
  let eocd = -1;
  for (let i = tailLen - 22; i >= 0; i--) {
    if (tv.getUint32(i, true) === SIG_EOCD && i + 22 + tv.getUint16(i + 20, true) <= tailLen) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw new ZipFormatError(file, 'no end-of-central-directory record (not a zip file, or truncated)');

  let count = tv.getUint16(eocd + 10, true);
  let cdSize = tv.getUint32(eocd + 12, true);
  let cdOffset = tv.getUint32(eocd + 16, true);
  const eocdAbs = tailStart + eocd;
  if (eocdAbs >= 20) {
    const loc = viewOf(await readExactly(file, fh, eocdAbs - 20, 20));
    if (loc.getUint32(0, true) === SIG_ZIP64_LOCATOR) {
      const z64At = u64(loc, 8, file, 'zip64 end-of-central-directory offset');
      if (z64At + 56 > size) throw new ZipFormatError(file, 'zip64 end-of-central-directory record is out of range');
      const z = viewOf(await readExactly(file, fh, z64At, 56));
      if (z.getUint32(0, true) !== SIG_ZIP64_EOCD) throw new ZipFormatError(file, 'bad zip64 end-of-central-directory signature');
      count = u64(z, 32, file, 'entry count');
      cdSize = u64(z, 40, file, 'central directory size');
      cdOffset = u64(z, 48, file, 'central directory offset');
    }
  }
  if (cdOffset + cdSize > size) {
    throw new ZipFormatError(file, `central directory [${cdOffset}, ${cdOffset + cdSize}) lies past the end of the file (${size} bytes)`);
  }
  if (count * 46 > cdSize) throw new ZipFormatError(file, `central directory of ${cdSize} bytes cannot hold ${count} entries`);

  const cd = await readExactly(file, fh, cdOffset, cdSize);
  const cv = viewOf(cd);
  const decoder = new TextDecoder('utf-8');
  const entries = new Map<string, ZipEntry>();
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p + 46 > cdSize || cv.getUint32(p, true) !== SIG_CENTRAL) {
      throw new ZipFormatError(file, `central directory entry ${i} is malformed`);
    }
    const nameLen = cv.getUint16(p + 28, true);
    const extraLen = cv.getUint16(p + 30, true);
    const commentLen = cv.getUint16(p + 32, true);
    const next = p + 46 + nameLen + extraLen + commentLen;
    if (next > cdSize) throw new ZipFormatError(file, `central directory entry ${i} overruns the directory`);
    const name = decoder.decode(cd.subarray(p + 46, p + 46 + nameLen));
    let uncompressedSize = cv.getUint32(p + 24, true);
    let compressedSize = cv.getUint32(p + 20, true);
    let localHeaderOffset = cv.getUint32(p + 42, true);
    // Zip64 extended information (id 1) holds, in this order, only the fields saturated at 0xFFFFFFFF.
    for (let x = p + 46 + nameLen; x + 4 <= p + 46 + nameLen + extraLen; ) {
      const id = cv.getUint16(x, true);
      const len = cv.getUint16(x + 2, true);
      if (id === 0x0001) {
        let f = x + 4;
        const take = (what: string): number => {
          if (f + 8 > x + 4 + len) throw new ZipFormatError(file, `entry "${name}": zip64 field is missing ${what}`);
          const v = u64(cv, f, file, `entry "${name}" ${what}`);
          f += 8;
          return v;
        };
        if (uncompressedSize === 0xffffffff) uncompressedSize = take('uncompressed size');
        if (compressedSize === 0xffffffff) compressedSize = take('compressed size');
        if (localHeaderOffset === 0xffffffff) localHeaderOffset = take('local header offset');
      }
      x += 4 + len;
    }
    entries.set(name, {
      name,
      method: cv.getUint16(p + 10, true),
      flags: cv.getUint16(p + 8, true),
      crc32: cv.getUint32(p + 16, true),
      compressedSize,
      uncompressedSize,
      localHeaderOffset,
    });
    p = next;
  }
  return entries;
}
