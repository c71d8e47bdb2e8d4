// A restricted pickle interpreter: enough of the format for torch.save'd state_dicts and the
// checkpoints wrapping them (optimizer state, epochs, config lists), and nothing that can run code.
//
// Nothing here is ever executed: globals become inert PyGlobal values, and the caller decides what a
// REDUCE of one means. Every GLOBAL / STACK_GLOBAL is checked against the caller's allow-list the
// moment it is read, so a hostile pickle fails before its first REDUCE.

/** Thrown for a global outside the allow-list (e.g. os.system, builtins.eval). */
export class UnsafePickleError extends Error {
  constructor(readonly file: string, readonly global: string) {
    super(`${file}: refusing to unpickle global "${global}": it is not on the allow-list of a PyTorch state_dict`);
    this.name = 'UnsafePickleError';
  }
}

export class PickleFormatError extends Error {
  constructor(readonly file: string, problem: string) {
    super(`${file}: malformed pickle: ${problem}`);
    this.name = 'PickleFormatError';
  }
}

/** A Python global (module.name), as a value: only the allow-listed ones ever exist. */
export class PyGlobal {
  constructor(readonly module: string, readonly name: string) {}
  get qualifiedName(): string {
    return `${this.module}.${this.name}`;
  }
}

export class PyTuple {
  constructor(readonly items: readonly PyValue[]) {}
}

export class PyList {
  constructor(readonly items: PyValue[] = []) {}
}

export type PyKey = string | number | bigint | boolean | null;

/** dict / OrderedDict (insertion order kept). `state` is what BUILD set, e.g. a state_dict's _metadata. */
export class PyDict {
  readonly map = new Map<PyKey, PyValue>();
  state: PyValue | undefined;
}

/** Base of the objects a caller's hooks create (tensors, storages). */
export abstract class PyHostObject {
  abstract readonly kind: string;
}

export type PyValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | PyTuple
  | PyList
  | PyDict
  | PyGlobal
  | PyHostObject;

export interface UnpicklerHooks {
  /** "module.name" of every global the pickle may reference. */
  readonly allowedGlobals: ReadonlySet<string>;
  /** REDUCE: "call" an allow-listed global. */
  reduce(callable: PyGlobal, args: readonly PyValue[]): PyValue;
  /** BINPERSID: resolve a persistent id (torch: a storage reference). */
  persistentLoad(pid: PyValue): PyValue;
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
// Bounds on pickled integers: conversion is quadratic in their length, and a state_dict's are small.
// 4300 digits is Python's own default limit for int <-> str.
const MAX_INT_DIGITS = 4300;
const MAX_INT_BYTES = 2048;

/** A short quote of a bad text argument (the rest of a hostile line can be megabytes). */
function quoted(s: string): string {
  return s.length > 40 ? `${JSON.stringify(s.slice(0, 40))}... (${s.length} characters)` : JSON.stringify(s);
}

function pyInt(v: bigint): number | bigint {
  return v <= MAX_SAFE && v >= -MAX_SAFE ? Number(v) : v;
}

function describe(v: PyValue): string {
  if (v === null) return 'None';
  if (v instanceof PyGlobal) return v.qualifiedName;
  if (v instanceof PyHostObject) return v.kind;
  if (v instanceof Uint8Array) return 'bytes';
  if (typeof v === 'object') return v.constructor.name;
  return typeof v;
}

/** Interprets `data` (a pickle, protocol 0-5 subset) and returns the unpickled root value. */
export function unpickle(data: Uint8Array, sourceName: string, hooks: UnpicklerHooks): PyValue {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const utf8 = new TextDecoder('utf-8');
  const latin1 = new TextDecoder('latin1');
  let pos = 0;
  let stack: PyValue[] = [];
  const metastack: PyValue[][] = [];
  const memo = new Map<number, PyValue>();

  const fail = (problem: string): PickleFormatError => new PickleFormatError(sourceName, problem);

  function need(n: number): number {
    if (n < 0 || pos + n > data.length) throw fail(`truncated: needs ${n} bytes at offset ${pos}, only ${data.length - pos} left`);
    const at = pos;
    pos += n;
    return at;
  }
  const u8 = (): number => data[need(1)];
  const u16 = (): number => view.getUint16(need(2), true);
  const u32 = (): number => view.getUint32(need(4), true);
  const i32 = (): number => view.getInt32(need(4), true);
  function u64(): number {
    const v = view.getBigUint64(need(8), true);
    if (v > MAX_SAFE) throw fail(`length ${v} is too large`);
    return Number(v);
  }
  function bytes(n: number): Uint8Array {
    const at = need(n);
    return data.slice(at, at + n);
  }
  function line(): string {
    const end = data.indexOf(0x0a, pos);
    if (end < 0) throw fail(`truncated: unterminated text argument at offset ${pos}`);
    const s = utf8.decode(data.subarray(pos, end));
    pos = end + 1;
    return s;
  }
  /** A text integer argument, refused when too long to convert in bounded time (as Python does). */
  function intText(s: string): string {
    if (s.length > MAX_INT_DIGITS) throw fail(`integer argument of ${s.length} characters: over ${MAX_INT_DIGITS} digits are refused`);
    return s;
  }
  function littleEndianSigned(b: Uint8Array): bigint {
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
    if (b.length > 0 && (b[b.length - 1] & 0x80) !== 0) v -= 1n << BigInt(8 * b.length);
    return v;
  }

  function pop(): PyValue {
    if (stack.length === 0) throw fail(`stack underflow at offset ${pos - 1}`);
    return stack.pop() as PyValue;
  }
  function top(): PyValue {
    if (stack.length === 0) throw fail(`stack underflow at offset ${pos - 1}`);
    return stack[stack.length - 1];
  }
  function popMark(): PyValue[] {
    const items = stack;
    const prev = metastack.pop();
    if (prev === undefined) throw fail(`no MARK on the stack at offset ${pos - 1}`);
    stack = prev;
    return items;
  }
  function memoGet(i: number): PyValue {
    if (!memo.has(i)) throw fail(`memo key ${i} is not defined`);
    return memo.get(i) as PyValue;
  }
  function global(module: string, name: string): PyGlobal {
    const qualified = `${module}.${name}`;
    if (!hooks.allowedGlobals.has(qualified)) throw new UnsafePickleError(sourceName, qualified);
    return new PyGlobal(module, name);
  }
  function dictKey(k: PyValue): PyKey {
    if (k === null || typeof k === 'string' || typeof k === 'number' || typeof k === 'bigint' || typeof k === 'boolean') return k;
    throw fail(`unsupported dict key of type ${describe(k)}`);
  }
  function asDict(v: PyValue, op: string): PyDict {
    if (!(v instanceof PyDict)) throw fail(`${op} on a ${describe(v)}, expected a dict`);
    return v;
  }
  function asList(v: PyValue, op: string): PyList {
    if (!(v instanceof PyList)) throw fail(`${op} on a ${describe(v)}, expected a list`);
    return v;
  }
  function setItems(d: PyDict, kv: PyValue[]): void {
    if (kv.length % 2 !== 0) throw fail('SETITEMS with an odd number of items');
    for (let i = 0; i < kv.length; i += 2) d.map.set(dictKey(kv[i]), kv[i + 1]);
  }

  for (;;) {
    const opAt = pos;
    const op = u8();
    switch (op) {
      case 0x80: // PROTO
        if (u8() > 5) throw fail(`unsupported pickle protocol ${data[opAt + 1]}`);
        break;
      case 0x95: // FRAME: a length hint for buffered readers; the data is all in memory
        u64();
        break;
      case 0x2e: {
        // STOP
        const result = pop();
        if (stack.length !== 0 || metastack.length !== 0) throw fail('STOP with values left on the stack');
        return result;
      }
      case 0x28: // MARK
        metastack.push(stack);
        stack = [];
        break;
      case 0x30: // POP
        pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        stack.push(top());
        break;

      // --- constants and scalars ---
      case 0x4e: // NONE
        stack.push(null);
        break;
      case 0x88: // NEWTRUE
        stack.push(true);
        break;
      case 0x89: // NEWFALSE
        stack.push(false);
        break;
      case 0x4a: // BININT
        stack.push(i32());
        break;
      case 0x4b: // BININT1
        stack.push(u8());
        break;
      case 0x4d: // BININT2
        stack.push(u16());
        break;
      case 0x8a: // LONG1
        stack.push(pyInt(littleEndianSigned(bytes(u8()))));
        break;
      case 0x8b: {
        // LONG4
        const n = i32();
        if (n < 0) throw fail('LONG4 with a negative length');
        if (n > MAX_INT_BYTES) throw fail(`LONG4 of ${n} bytes: integers over ${MAX_INT_BYTES} bytes are refused (converting them takes quadratic time)`);
        stack.push(pyInt(littleEndianSigned(bytes(n))));
        break;
      }
      case 0x49: {
        // INT (text): "00"/"01" are protocol-0 False/True
        const s = intText(line().trim());
        if (s === '00' || s === '01') stack.push(s === '01');
        else if (/^[+-]?\d+$/.test(s)) stack.push(pyInt(BigInt(s)));
        else throw fail(`bad INT argument ${quoted(s)}`);
        break;
      }
      case 0x4c: {
        // LONG (text), e.g. "123L"
        const s = intText(line().trim().replace(/L$/, ''));
        if (!/^[+-]?\d+$/.test(s)) throw fail(`bad LONG argument ${quoted(s)}`);
        stack.push(pyInt(BigInt(s)));
        break;
      }
      case 0x47: // BINFLOAT: big-endian double
        stack.push(view.getFloat64(need(8), false));
        break;
      case 0x46: {
        // FLOAT (text)
        const s = line().trim();
        const v = Number(s);
        if (s === '' || (Number.isNaN(v) && !/^[+-]?nan$/i.test(s))) throw fail(`bad FLOAT argument ${quoted(s)}`);
        stack.push(v);
        break;
      }

      // --- strings and bytes ---
      case 0x58: // BINUNICODE
        stack.push(utf8.decode(bytes(u32())));
        break;
      case 0x8c: // SHORT_BINUNICODE
        stack.push(utf8.decode(bytes(u8())));
        break;
      case 0x8d: // BINUNICODE8
        stack.push(utf8.decode(bytes(u64())));
        break;
      case 0x54: {
        // BINSTRING (Python 2 str)
        const n = i32();
        if (n < 0) throw fail('BINSTRING with a negative length');
        stack.push(latin1.decode(bytes(n)));
        break;
      }
      case 0x55: // SHORT_BINSTRING
        stack.push(latin1.decode(bytes(u8())));
        break;
      case 0x42: // BINBYTES
        stack.push(bytes(u32()));
        break;
      case 0x43: // SHORT_BINBYTES
        stack.push(bytes(u8()));
        break;
      case 0x8e: // BINBYTES8
      case 0x96: // BYTEARRAY8
        stack.push(bytes(u64()));
        break;

      // --- containers ---
      case 0x7d: // EMPTY_DICT
        stack.push(new PyDict());
        break;
      case 0x64: {
        // DICT
        const d = new PyDict();
        setItems(d, popMark());
        stack.push(d);
        break;
      }
      case 0x5d: // EMPTY_LIST
        stack.push(new PyList());
        break;
      case 0x6c: {
        // LIST (popMark swaps `stack`, so take the items before touching it)
        const items = popMark();
        stack.push(new PyList(items));
        break;
      }
      case 0x29: // EMPTY_TUPLE
        stack.push(new PyTuple([]));
        break;
      case 0x74: {
        // TUPLE
        const items = popMark();
        stack.push(new PyTuple(items));
        break;
      }
      case 0x85: // TUPLE1
        stack.push(new PyTuple([pop()]));
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        const a = pop();
        stack.push(new PyTuple([a, b]));
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        const a = pop();
        stack.push(new PyTuple([a, b, c]));
        break;
      }
      case 0x73: {
        // SETITEM
        const v = pop();
        const k = pop();
        asDict(top(), 'SETITEM').map.set(dictKey(k), v);
        break;
      }
      case 0x75: {
        // SETITEMS
        const kv = popMark();
        setItems(asDict(top(), 'SETITEMS'), kv);
        break;
      }
      case 0x61: {
        // APPEND
        const v = pop();
        asList(top(), 'APPEND').items.push(v);
        break;
      }
      case 0x65: {
        // APPENDS
        const vs = popMark();
        asList(top(), 'APPENDS').items.push(...vs);
        break;
      }

      // --- memo ---
      case 0x71: // BINPUT
        memo.set(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        memo.set(u32(), top());
        break;
      case 0x94: // MEMOIZE
        memo.set(memo.size, top());
        break;
      case 0x70: {
        // PUT (text)
        const s = line();
        if (!/^\d+$/.test(s)) throw fail(`bad PUT argument ${quoted(s)}`);
        memo.set(Number(s), top());
        break;
      }
      case 0x68: // BINGET
        stack.push(memoGet(u8()));
        break;
      case 0x6a: // LONG_BINGET
        stack.push(memoGet(u32()));
        break;
      case 0x67: {
        // GET (text)
        const s = line();
        if (!/^\d+$/.test(s)) throw fail(`bad GET argument ${quoted(s)}`);
        stack.push(memoGet(Number(s)));
        break;
      }

      // --- objects: only ever inert values, checked against the allow-list ---
      case 0x63: {
        // GLOBAL "module\nname\n"
        const module = line();
        const name = line();
        stack.push(global(module, name));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') throw fail('STACK_GLOBAL operands are not strings');
        stack.push(global(module, name));
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        const callable = pop();
        if (!(callable instanceof PyGlobal)) throw fail(`REDUCE of a ${describe(callable)}, which is not callable`);
        if (!(args instanceof PyTuple)) throw fail(`REDUCE of ${callable.qualifiedName} with non-tuple arguments`);
        stack.push(hooks.reduce(callable, args.items));
        break;
      }
      case 0x62: {
        // BUILD: only dict-like objects take state (an OrderedDict's attributes, e.g. _metadata)
        const state = pop();
        const obj = top();
        if (!(obj instanceof PyDict)) throw fail(`BUILD on a ${describe(obj)} is not supported`);
        obj.state = state;
        break;
      }
      case 0x69: {
        // INST "module\nname\n": the allow-list still decides first, so the error names the global
        const qualified = global(line(), line()).qualifiedName;
        throw fail(`INST of ${qualified} at offset ${opAt} is not supported`);
      }
      case 0x51: // BINPERSID
        stack.push(hooks.persistentLoad(pop()));
        break;

      default:
        throw fail(`unsupported opcode 0x${op.toString(16).padStart(2, '0')} at offset ${opAt}`);
    }
  }
}
