// safetensors reader/writer: u64 little-endian header length N, N bytes of JSON header
// ({name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {string: string}}), then the
// byte buffer the offsets index into. Reading converts every float/int dtype to float32; writing
// produces F32 only, laid out the way the reference implementation does it.
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import * as path from 'node:path';
import { decodeToFloat32, float32ToLittleEndianBytes } from './dtype_codec.js';
import type { HostDType, HostTensor } from './host_tensor.js';
import { DTYPE_BYTES, numel } from './host_tensor.js';

/** One tensor as stored: its dtype, shape and (little-endian) bytes, a view into the parsed buffer. */
export interface RawSafetensor {
  dtype: HostDType;
  shape: number[];
  bytes: Uint8Array;
}

export interface SafetensorsFile {
  tensors: Map<string, HostTensor>;
  metadata: Record<string, string>;
}

export interface RawSafetensorsFile {
  tensors: Map<string, RawSafetensor>;
  metadata: Record<string, string>;
}

export type TensorCollection = Map<string, HostTensor> | Record<string, HostTensor>;

const SAFETENSORS_DTYPES: Readonly<Record<string, HostDType>> = {
  F32: 'float32',
  F16: 'float16',
  BF16: 'bfloat16',
  F64: 'float64',
  I64: 'int64',
  I32: 'int32',
  U8: 'uint8',
  BOOL: 'bool',
};

// Same cap as the reference implementation: a header is JSON, never anywhere near this.
const MAX_HEADER_BYTES = 100_000_000;

export class SafetensorsFormatError extends Error {
  constructor(readonly file: string, problem: string) {
    super(`${file}: invalid safetensors file: ${problem}`);
    this.name = 'SafetensorsFormatError';
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isIndex(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

interface HeaderEntry {
  name: string;
  dtype: HostDType;
  shape: number[];
  begin: number;
  end: number;
}

interface ParsedHeader {
  entries: HeaderEntry[];
  metadata: Record<string, string>;
}

/** Reads the 8-byte length prefix; checks it against the file size. */
function headerLength(prefix: Uint8Array, fileSize: number, sourceName: string): number {
  if (prefix.length < 8) {
    throw new SafetensorsFormatError(sourceName, `truncated header: file is ${fileSize} bytes, shorter than the 8-byte length prefix`);
  }
  const len = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (len > BigInt(MAX_HEADER_BYTES)) throw new SafetensorsFormatError(sourceName, `header length ${len} is implausibly large`);
  const n = Number(len);
  if (8 + n > fileSize) {
    throw new SafetensorsFormatError(sourceName, `truncated header: header claims ${n} bytes but only ${fileSize - 8} follow`);
  }
  return n;
}

/** Validates the JSON header against a data buffer of dataLength bytes. */
function parseHeader(json: Uint8Array, dataLength: number, sourceName: string): ParsedHeader {
  function fail(problem: string): never {
    throw new SafetensorsFormatError(sourceName, problem);
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(json));
  } catch (e) {
    fail(`header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (!isRecord(header)) fail('header is not a JSON object');

  const metadata: [string, string][] = [];
  const entries: HeaderEntry[] = [];
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (!isRecord(info)) fail('__metadata__ is not an object');
      for (const [k, v] of Object.entries(info)) {
        if (typeof v !== 'string') fail(`__metadata__["${k}"] is not a string`);
        metadata.push([k, v]);
      }
      continue;
    }
    if (!isRecord(info)) fail(`tensor "${name}": entry is not an object`);
    const { dtype: dtypeName, shape, data_offsets: offsets } = info;
    if (typeof dtypeName !== 'string') fail(`tensor "${name}": missing dtype`);
    const dtype: HostDType | undefined = Object.hasOwn(SAFETENSORS_DTYPES, dtypeName) ? SAFETENSORS_DTYPES[dtypeName] : undefined;
    if (dtype === undefined) fail(`tensor "${name}": unknown or unsupported dtype "${dtypeName}"`);
    if (!Array.isArray(shape) || !shape.every(isIndex)) fail(`tensor "${name}": shape is not a list of non-negative integers`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isIndex)) {
      fail(`tensor "${name}": data_offsets is not a [begin, end] pair of non-negative integers`);
    }
    const [begin, end] = offsets as number[];
    if (begin > end || end > dataLength) {
      fail(`tensor "${name}": data_offsets [${begin}, ${end}] out of range (data buffer is ${dataLength} bytes)`);
    }
    const dims = shape as number[];
    let expected: number;
    try {
      expected = numel(dims) * DTYPE_BYTES[dtype];
    } catch (e) {
      fail(`tensor "${name}": ${(e as Error).message}`);
    }
    if (end - begin !== expected) {
      fail(`tensor "${name}": shape [${dims.join(', ')}] of ${dtypeName} needs ${expected} bytes but data_offsets span ${end - begin}`);
    }
    entries.push({ name, dtype, shape: [...dims], begin, end });
  }
  // Each tensor is decoded into its own array, so ranges shared by several tensors would let a small
  // file claim many times its size: every byte belongs to at most one tensor.
  const byStart = entries.filter((e) => e.end > e.begin).sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < byStart.length; i++) {
    const prev = byStart[i - 1]!;
    const cur = byStart[i]!;
    if (cur.begin < prev.end) {
      fail(`tensors "${prev.name}" [${prev.begin}, ${prev.end}) and "${cur.name}" [${cur.begin}, ${cur.end}) overlap in the data buffer`);
    }
  }
  // fromEntries defines own properties, so a "__proto__" key cannot touch the prototype.
  return { entries, metadata: Object.fromEntries(metadata) };
}

/** Parses a safetensors buffer, keeping each tensor's raw bytes (for integer data, or lazy decoding). */
export function parseSafetensorsRaw(buf: Uint8Array, sourceName: string): RawSafetensorsFile {
  const n = headerLength(buf.subarray(0, 8), buf.length, sourceName);
  const data = buf.subarray(8 + n);
  const { entries, metadata } = parseHeader(buf.subarray(8, 8 + n), data.length, sourceName);
  const tensors = new Map<string, RawSafetensor>();
  for (const e of entries) tensors.set(e.name, { dtype: e.dtype, shape: e.shape, bytes: data.subarray(e.begin, e.end) });
  return { tensors, metadata };
}

/** Parses a safetensors buffer; every tensor is converted to float32. sourceName is used in errors. */
export function parseSafetensors(buf: Uint8Array, sourceName: string): SafetensorsFile {
  const raw = parseSafetensorsRaw(buf, sourceName);
  const tensors = new Map<string, HostTensor>();
  for (const [name, t] of raw.tensors) {
    tensors.set(name, { shape: t.shape, data: decodeToFloat32(t.bytes, t.dtype) });
  }
  return { tensors, metadata: raw.metadata };
}

/**
 * Reads a safetensors file. Each tensor's bytes are read at its offset rather than slurping the
 * file, so files larger than one Node buffer (2 GiB) work.
 */
export async function readSafetensors(file: string): Promise<SafetensorsFile> {
  let fh: FileHandle;
  try {
    fh = await fsp.open(file, 'r');
  } catch (e) {
    throw new Error(`${file}: cannot read safetensors file: ${(e as Error).message}`);
  }
  try {
    const size = (await fh.stat()).size;
    const readAt = async (position: number, length: number): Promise<Uint8Array> => {
      const out = new Uint8Array(length);
      const { bytesRead } = await fh.read(out, 0, length, position);
      if (bytesRead !== length) throw new SafetensorsFormatError(file, `short read at byte ${position} (file changed while reading?)`);
      return out;
    };
    const n = headerLength(await readAt(0, Math.min(8, size)), size, file);
    const { entries, metadata } = parseHeader(await readAt(8, n), size - 8 - n, file);
    const tensors = new Map<string, HostTensor>();
    for (const e of entries) {
      const bytes = await readAt(8 + n + e.begin, e.end - e.begin);
      tensors.set(e.name, { shape: e.shape, data: decodeToFloat32(bytes, e.dtype) });
    }
    return { tensors, metadata };
  } finally {
    await fh.close();
  }
}

function entriesOf(tensors: TensorCollection): [string, HostTensor][] {
  return tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors);
}

/**
 * Encodes tensors as an F32 safetensors file. Tensors are laid out in sorted name order and the
 * header is padded with spaces to a multiple of 8 bytes, as the reference implementation does.
 */
export function encodeSafetensors(tensors: TensorCollection, metadata?: Record<string, string>): Uint8Array {
  const entries = entriesOf(tensors).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  // Built as text so the order is exactly ours (a JS object would move integer-like names first).
  const fields: string[] = [];
  if (metadata !== undefined && Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new Error(`safetensors metadata "${k}" must be a string`);
    }
    fields.push(`"__metadata__":${JSON.stringify(metadata)}`);
  }
  let offset = 0;
  for (const [name, t] of entries) {
    if (name === '__metadata__') throw new Error('"__metadata__" is reserved and cannot name a tensor');
    const n = numel(t.shape);
    if (t.data.length !== n) {
      throw new Error(`tensor "${name}": data has ${t.data.length} elements but shape [${t.shape.join(', ')}] needs ${n}`);
    }
    const info = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + 4 * n] };
    fields.push(`${JSON.stringify(name)}:${JSON.stringify(info)}`);
    offset += 4 * n;
  }
  const json = new TextEncoder().encode(`{${fields.join(',')}}`);
  const headerLen = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + headerLen + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLen), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLen);
  let pos = 8 + headerLen;
  for (const [, t] of entries) {
    out.set(float32ToLittleEndianBytes(t.data), pos);
    pos += t.data.byteLength;
  }
  return out;
}

/** Writes tensors atomically: a temp file in the same directory, fsync, then rename over `file`. */
export async function writeSafetensors(
  file: string,
  tensors: TensorCollection,
  metadata?: Record<string, string>,
): Promise<void> {
  const bytes = encodeSafetensors(tensors, metadata);
  const dir = path.dirname(file);
  const tmp = path.join(dir, `.${path.basename(file)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const fh = await fsp.open(tmp, 'wx');
    try {
      await fh.writeFile(bytes);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fsp.rename(tmp, file);
  } catch (e) {
    await fsp.rm(tmp, { force: true });
    throw new Error(`${file}: cannot write safetensors file: ${(e as Error).message}`);
  }
  // Persist the rename itself; some platforms cannot fsync a directory, which is not fatal.
  try {
    const dh = await fsp.open(dir, 'r');
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
  } catch {
    /* best effort */
  }
}
