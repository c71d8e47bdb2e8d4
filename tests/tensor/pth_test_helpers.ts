// Test-only builders for torch.save-style archives: a tiny pickle assembler and a zip writer
// (stored or deflated entries, optionally with zip64 records), so tests can craft checkpoints,
// malformed ones and malicious ones without torch.
import { crc32, deflateRawSync } from 'node:zlib';

/** Assembles pickle bytes opcode by opcode. */
export class PickleWriter {
  private readonly out: number[] = [];

  op(...bytes: number[]): this {
    this.out.push(...bytes);
    return this;
  }
  private le(value: number, width: number): this {
    for (let i = 0; i < width; i++) this.out.push(Math.floor(value / 2 ** (8 * i)) & 0xff);
    return this;
  }
  private utf8(s: string): number[] {
    return [...new TextEncoder().encode(s)];
  }

  proto(v = 2): this {
    return this.op(0x80, v);
  }
  mark(): this {
    return this.op(0x28);
  }
  stop(): this {
    return this.op(0x2e);
  }
  /** GLOBAL "module\nname\n". */
  global(module: string, name: string): this {
    return this.op(0x63, ...this.utf8(`${module}\n${name}\n`));
  }
  /** SHORT_BINUNICODE module, SHORT_BINUNICODE name, STACK_GLOBAL. */
  stackGlobal(module: string, name: string): this {
    return this.shortStr(module).shortStr(name).op(0x93);
  }
  str(s: string): this {
    const b = this.utf8(s);
    return this.op(0x58).le(b.length, 4).op(...b);
  }
  shortStr(s: string): this {
    const b = this.utf8(s);
    return this.op(0x8c, b.length, ...b);
  }
  int(n: number): this {
    if (n >= 0 && n < 0x100) return this.op(0x4b, n);
    if (n >= 0 && n < 0x10000) return this.op(0x4d).le(n, 2);
    if (n >= -(2 ** 31) && n < 2 ** 31) return this.op(0x4a).le(n >>> 0, 4);
    // LONG1 with 8 bytes covers every safe integer.
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigInt64(0, BigInt(n), true);
    return this.op(0x8a, 8, ...b);
  }
  float(x: number): this {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, x, false);
    return this.op(0x47, ...b);
  }
  bool(v: boolean): this {
    return this.op(v ? 0x88 : 0x89);
  }
  none(): this {
    return this.op(0x4e);
  }
  emptyTuple(): this {
    return this.op(0x29);
  }
  emptyDict(): this {
    return this.op(0x7d);
  }
  /** MARK ints TUPLE (or the short forms), like torch's size/stride tuples. */
  intTuple(values: readonly number[]): this {
    if (values.length === 0) return this.emptyTuple();
    if (values.length <= 3) {
      for (const v of values) this.int(v);
      return this.op(0x84 + values.length);
    }
    this.mark();
    for (const v of values) this.int(v);
    return this.op(0x74);
  }
  reduce(): this {
    return this.op(0x52);
  }
  setitem(): this {
    return this.op(0x73);
  }
  setitems(): this {
    return this.op(0x75);
  }
  bytes(): Uint8Array {
    return Uint8Array.from(this.out);
  }
}

export interface TensorSpec {
  storageType: string; // e.g. 'FloatStorage'
  storageKey: string;
  storageNumel: number;
  offset: number;
  size: number[];
  stride: number[];
  /** Wrap in torch._utils._rebuild_parameter, as an nn.Parameter is saved. */
  parameter?: boolean;
}

/** Emits the exact opcode sequence torch.save (protocol 2) uses for one tensor. */
export function writeTensor(w: PickleWriter, t: TensorSpec): void {
  if (t.parameter === true) w.global('torch._utils', '_rebuild_parameter').mark();
  w.global('torch._utils', '_rebuild_tensor_v2').mark();
  w.mark().str('storage').global('torch', t.storageType).str(t.storageKey).str('cpu').int(t.storageNumel).op(0x74).op(0x51);
  w.int(t.offset).intTuple(t.size).intTuple(t.stride).bool(false);
  w.global('collections', 'OrderedDict').emptyTuple().reduce();
  w.op(0x74).reduce();
  if (t.parameter === true) w.bool(true).global('collections', 'OrderedDict').emptyTuple().reduce().op(0x74).reduce();
}

/** A state_dict pickle (OrderedDict of tensors); optionally nested as {wrapKey: state_dict, "epoch": 7}. */
export function stateDictPickle(tensors: Record<string, TensorSpec>, wrapKey?: string): Uint8Array {
  const w = new PickleWriter().proto(2);
  if (wrapKey !== undefined) w.emptyDict().mark().str('epoch').int(7).str(wrapKey);
  w.global('collections', 'OrderedDict').emptyTuple().reduce().mark();
  for (const [name, t] of Object.entries(tensors)) {
    w.str(name);
    writeTensor(w, t);
  }
  w.setitems();
  if (wrapKey !== undefined) w.setitems();
  return w.stop().bytes();
}

export interface ZipInput {
  name: string;
  data: Uint8Array;
  deflate?: boolean;
}

/** A zip archive of the given entries; zip64 forces zip64 extra fields and end records. */
export function buildZip(entries: readonly ZipInput[], opts: { zip64?: boolean } = {}): Uint8Array {
  const zip64 = opts.zip64 === true;
  const chunks: Uint8Array[] = [];
  let offset = 0;
  const push = (b: Uint8Array): void => {
    chunks.push(b);
    offset += b.length;
  };
  const central: Uint8Array[] = [];
  for (const e of entries) {
    const name = new TextEncoder().encode(e.name);
    const body = e.deflate === true ? new Uint8Array(deflateRawSync(e.data)) : e.data;
    const crc = crc32(e.data) >>> 0;
    const method = e.deflate === true ? 8 : 0;
    const localOffset = offset;

    const localExtra = zip64 ? 20 : 0;
    const local = new DataView(new ArrayBuffer(30 + name.length + localExtra));
    local.setUint32(0, 0x04034b50, true);
    local.setUint16(4, zip64 ? 45 : 20, true);
    local.setUint16(8, method, true);
    local.setUint32(14, crc, true);
    local.setUint32(18, zip64 ? 0xffffffff : body.length, true);
    local.setUint32(22, zip64 ? 0xffffffff : e.data.length, true);
    local.setUint16(26, name.length, true);
    local.setUint16(28, localExtra, true);
    new Uint8Array(local.buffer).set(name, 30);
    if (zip64) {
      local.setUint16(30 + name.length, 1, true);
      local.setUint16(32 + name.length, 16, true);
      local.setBigUint64(34 + name.length, BigInt(e.data.length), true);
      local.setBigUint64(42 + name.length, BigInt(body.length), true);
    }
    push(new Uint8Array(local.buffer));
    push(body);

    const cExtra = zip64 ? 28 : 0;
    const c = new DataView(new ArrayBuffer(46 + name.length + cExtra));
    c.setUint32(0, 0x02014b50, true);
    c.setUint16(4, 45, true);
    c.setUint16(6, zip64 ? 45 : 20, true);
    c.setUint16(10, method, true);
    c.setUint32(16, crc, true);
    c.setUint32(20, zip64 ? 0xffffffff : body.length, true);
    c.setUint32(24, zip64 ? 0xffffffff : e.data.length, true);
    c.setUint16(28, name.length, true);
    c.setUint16(30, cExtra, true);
    c.setUint32(42, zip64 ? 0xffffffff : localOffset, true);
    new Uint8Array(c.buffer).set(name, 46);
    if (zip64) {
      const x = 46 + name.length;
      c.setUint16(x, 1, true);
      c.setUint16(x + 2, 24, true);
      c.setBigUint64(x + 4, BigInt(e.data.length), true);
      c.setBigUint64(x + 12, BigInt(body.length), true);
      c.setBigUint64(x + 20, BigInt(localOffset), true);
    }
    central.push(new Uint8Array(c.buffer));
  }
  const cdOffset = offset;
  for (const c of central) push(c);
  const cdSize = offset - cdOffset;
  if (zip64) {
    const z = new DataView(new ArrayBuffer(56));
    z.setUint32(0, 0x06064b50, true);
    z.setBigUint64(4, 44n, true);
    z.setUint16(12, 45, true);
    z.setUint16(14, 45, true);
    z.setBigUint64(24, BigInt(entries.length), true);
    z.setBigUint64(32, BigInt(entries.length), true);
    z.setBigUint64(40, BigInt(cdSize), true);
    z.setBigUint64(48, BigInt(cdOffset), true);
    const z64At = offset;
    push(new Uint8Array(z.buffer));
    const loc = new DataView(new ArrayBuffer(20));
    loc.setUint32(0, 0x07064b50, true);
    loc.setBigUint64(8, BigInt(z64At), true);
    loc.setUint32(16, 1, true);
    push(new Uint8Array(loc.buffer));
  }
  const end = new DataView(new ArrayBuffer(22));
  end.setUint32(0, 0x06054b50, true);
  end.setUint16(8, zip64 ? 0xffff : entries.length, true);
  end.setUint16(10, zip64 ? 0xffff : entries.length, true);
  end.setUint32(12, zip64 ? 0xffffffff : cdSize, true);
  end.setUint32(16, zip64 ? 0xffffffff : cdOffset, true);
  push(new Uint8Array(end.buffer));

  const out = new Uint8Array(offset);
  let p = 0;
  for (const c of chunks) {
    out.set(c, p);
    p += c.length;
  }
  return out;
}

/** A torch.save-shaped archive: `<archive>/data.pkl`, `<archive>/data/<key>`, `<archive>/version`. */
export function buildPth(
  pickle: Uint8Array,
  storages: Record<string, Uint8Array>,
  opts: { archive?: string; zip64?: boolean; deflate?: boolean; byteorder?: 'little' | 'big' } = {},
): Uint8Array {
  const archive = opts.archive ?? 'archive';
  const entries: ZipInput[] = [{ name: `${archive}/data.pkl`, data: pickle, deflate: opts.deflate }];
  if (opts.byteorder !== undefined) entries.push({ name: `${archive}/byteorder`, data: new TextEncoder().encode(opts.byteorder) });
  for (const [key, data] of Object.entries(storages)) entries.push({ name: `${archive}/data/${key}`, data, deflate: opts.deflate });
  entries.push({ name: `${archive}/version`, data: new TextEncoder().encode('3\n') });
  return buildZip(entries, { zip64: opts.zip64 });
}

export function float32Bytes(values: readonly number[]): Uint8Array {
  return new Uint8Array(Float32Array.from(values).buffer);
}
