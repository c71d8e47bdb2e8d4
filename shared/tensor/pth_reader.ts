// Reads PyTorch checkpoints written by torch.save (the zip format, torch >= 1.6): `<archive>/data.pkl`
// is a pickled state_dict whose tensors point, via persistent ids, at raw little-endian storages
// `<archive>/data/<key>`. The pickle is interpreted by a restricted VM (never executed) that only
// knows the handful of globals a state_dict uses; each storage is read straight from the file by
// offset, so multi-GB checkpoints never need to fit in one buffer.
import { promises as fsp } from 'node:fs';
import { decodeToFloat32, HOST_LITTLE_ENDIAN } from './dtype_codec.js';
import type { HostDType, HostTensor } from './host_tensor.js';
import { DTYPE_BYTES, numel } from './host_tensor.js';
import type { PyValue, UnpicklerHooks } from './pth_unpickler.js';
import { PyDict, PyGlobal, PyHostObject, PyTuple, unpickle } from './pth_unpickler.js';
import type { ZipEntry } from './pth_zip.js';
import { ZipReader } from './pth_zip.js';

export { UnsafePickleError } from './pth_unpickler.js';

const STORAGE_DTYPES: ReadonlyMap<string, HostDType> = new Map<string, HostDType>([
  ['torch.FloatStorage', 'float32'],
  ['torch.HalfStorage', 'float16'],
  ['torch.BFloat16Storage', 'bfloat16'],
  ['torch.DoubleStorage', 'float64'],
  ['torch.LongStorage', 'int64'],
  ['torch.IntStorage', 'int32'],
  ['torch.BoolStorage', 'bool'],
  ['torch.ByteStorage', 'uint8'],
]);

const ORDERED_DICT = 'collections.OrderedDict';
const REBUILD_TENSOR_V2 = 'torch._utils._rebuild_tensor_v2';
const REBUILD_TENSOR = 'torch._utils._rebuild_tensor';
const REBUILD_PARAMETER = 'torch._utils._rebuild_parameter';

/** Everything a torch.save'd state_dict references; any other global is refused. */
export const PTH_ALLOWED_GLOBALS: ReadonlySet<string> = new Set([
  ORDERED_DICT,
  REBUILD_TENSOR_V2,
  REBUILD_TENSOR,
  REBUILD_PARAMETER,
  ...STORAGE_DTYPES.keys(),
]);

// A state_dict's pickle is tens of KB (a training checkpoint's with optimizer state, a few MB).
const MAX_PICKLE_BYTES = 64 * 1024 * 1024;
// Tied weights and broadcast (stride-0) buffers make tensors view more elements than their storage
// holds; each view is copied, so the copies are bounded.
const MAX_VIEWS_PER_STORAGE = 4;
// ... except for small storages, whose broadcast views (stride 0) may be larger, up to this many elements.
const MIN_VIEW_BUDGET = 1 << 20;

// Keys under which training scripts (MedSAM, detectron-style, Lightning) nest the model's weights.
const WRAPPER_KEYS = ['state_dict', 'model', 'model_state_dict', 'module', 'net'];

export class PthFormatError extends Error {
  constructor(readonly file: string, problem: string) {
    super(`${file}: invalid PyTorch checkpoint: ${problem}`);
    this.name = 'PthFormatError';
  }
}

class StorageRef extends PyHostObject {
  readonly kind = 'torch storage';
  constructor(readonly key: string, readonly dtype: HostDType, readonly numel: number) {
    super();
  }
}

class TensorRef extends PyHostObject {
  readonly kind = 'torch tensor';
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly shape: number[],
    readonly stride: number[],
  ) {
    super();
  }
}

function isCount(v: PyValue): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** The torch-specific meaning of the allow-listed globals and of persistent ids. */
function torchHooks(file: string): UnpicklerHooks {
  const fail = (problem: string): PthFormatError => new PthFormatError(file, problem);
  const storages = new Map<string, StorageRef>();

  function intTuple(v: PyValue, what: string): number[] {
    if (!(v instanceof PyTuple) || !v.items.every(isCount)) throw fail(`${what} is not a tuple of non-negative integers`);
    return v.items as number[];
  }

  function rebuildTensor(name: string, args: readonly PyValue[]): TensorRef {
    const [storage, offset, size, stride] = args;
    if (!(storage instanceof StorageRef)) throw fail(`${name}: first argument is not a storage`);
    if (!isCount(offset)) throw fail(`${name}: storage offset is not a non-negative integer`);
    const shape = intTuple(size, `${name}: size`);
    const strides = intTuple(stride, `${name}: stride`);
    if (shape.length !== strides.length) throw fail(`${name}: size has ${shape.length} dims but stride has ${strides.length}`);
    return new TensorRef(storage, offset, shape, strides);
  }

  return {
    allowedGlobals: PTH_ALLOWED_GLOBALS,

    reduce(callable: PyGlobal, args: readonly PyValue[]): PyValue {
      switch (callable.qualifiedName) {
        case ORDERED_DICT:
          if (args.length !== 0) throw fail('OrderedDict built with arguments is not supported');
          return new PyDict();
        case REBUILD_TENSOR_V2:
          // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
          if (args.length < 6 || args.length > 7) throw fail(`_rebuild_tensor_v2 with ${args.length} arguments`);
          return rebuildTensor('_rebuild_tensor_v2', args);
        case REBUILD_TENSOR:
          if (args.length !== 4) throw fail(`_rebuild_tensor with ${args.length} arguments`);
          return rebuildTensor('_rebuild_tensor', args);
        case REBUILD_PARAMETER:
          // (data, requires_grad, backward_hooks): a Parameter is just its tensor here
          if (args.length !== 3 || !(args[0] instanceof TensorRef)) throw fail('_rebuild_parameter without a tensor');
          return args[0];
        default:
          throw fail(`${callable.qualifiedName} cannot be called`);
      }
    },

    persistentLoad(pid: PyValue): PyValue {
      // ('storage', storage_type, key, location, numel)
      if (!(pid instanceof PyTuple) || pid.items.length !== 5 || pid.items[0] !== 'storage') {
        throw fail('persistent id is not a (\'storage\', type, key, location, numel) tuple');
      }
      const [, type, key, , count] = pid.items;
      const dtype = type instanceof PyGlobal ? STORAGE_DTYPES.get(type.qualifiedName) : undefined;
      if (dtype === undefined) throw fail('persistent id does not name a known storage type');
      if (typeof key !== 'string' && typeof key !== 'number') throw fail('storage key is not a string');
      if (!isCount(count)) throw fail(`storage ${String(key)}: element count is not a non-negative integer`);
      const k = String(key);
      const seen = storages.get(k);
      if (seen !== undefined) {
        if (seen.dtype !== dtype || seen.numel !== count) throw fail(`storage ${k} is declared twice, differently`);
        return seen;
      }
      const ref = new StorageRef(k, dtype, count);
      storages.set(k, ref);
      return ref;
    },
  };
}

function hasTensors(d: PyDict): boolean {
  for (const v of d.map.values()) if (v instanceof TensorRef) return true;
  return false;
}

/** The state_dict itself, or the one a training checkpoint wraps ({"model": sd}, {"state_dict": sd}). */
function selectStateDict(root: PyValue, file: string): PyDict {
  if (!(root instanceof PyDict)) throw new PthFormatError(file, `top-level object is a ${root === null ? 'None' : typeof root === 'object' ? root.constructor.name : typeof root}, not a dict`);
  if (hasTensors(root)) return root;
  for (const key of WRAPPER_KEYS) {
    const inner = root.map.get(key);
    if (inner instanceof PyDict && hasTensors(inner)) return inner;
  }
  const candidates = [...root.map.values()].filter((v): v is PyDict => v instanceof PyDict && hasTensors(v));
  if (candidates.length === 1) return candidates[0];
  const keys = [...root.map.keys()].map((k) => JSON.stringify(typeof k === 'bigint' ? String(k) : k)).join(', ');
  throw new PthFormatError(
    file,
    candidates.length === 0
      ? `no tensors at the top level nor in a nested dict (top-level keys: ${keys})`
      : `several nested dicts hold tensors and none is under a known key (top-level keys: ${keys})`,
  );
}

function isContiguous(shape: readonly number[], stride: readonly number[]): boolean {
  let expected = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    if (shape[d] !== 1 && stride[d] !== expected) return false;
    expected *= shape[d];
  }
  return true;
}

/** Copies a strided view of `src` into a new contiguous (row-major) array. */
function gatherStrided(src: Float32Array, offset: number, shape: readonly number[], stride: readonly number[]): Float32Array {
  const n = numel(shape);
  const out = new Float32Array(n);
  if (n === 0) return out;
  const nd = shape.length;
  if (nd === 0) {
    out[0] = src[offset];
    return out;
  }
  const idx = new Array<number>(nd).fill(0);
  const inner = shape[nd - 1];
  const innerStride = stride[nd - 1];
  let base = offset;
  let o = 0;
  for (;;) {
    for (let j = 0; j < inner; j++) out[o++] = src[base + j * innerStride];
    let d = nd - 2;
    for (; d >= 0; d--) {
      idx[d]++;
      base += stride[d];
      if (idx[d] < shape[d]) break;
      base -= stride[d] * shape[d];
      idx[d] = 0;
    }
    if (d < 0) return out;
  }
}

/** Locates `<archive>/data.pkl`; torch names the archive folder after the file (or "archive"). */
function findArchivePrefix(zip: ZipReader): string {
  const pkls = [...zip.entries.keys()].filter((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (pkls.length !== 1) {
    throw new PthFormatError(zip.file, pkls.length === 0 ? 'no <archive>/data.pkl entry (not a torch.save file?)' : 'several <archive>/data.pkl entries');
  }
  const prefix = pkls[0].slice(0, -'data.pkl'.length);
  if (zip.entries.has(`${prefix}constants.pkl`)) {
    throw new PthFormatError(zip.file, 'this is a TorchScript archive (torch.jit.save), not a torch.save state_dict');
  }
  return prefix;
}

async function sniff(file: string): Promise<'zip' | 'legacy' | 'other'> {
  const fh = await fsp.open(file, 'r');
  try {
    const head = new Uint8Array(4);
    const { bytesRead } = await fh.read(head, 0, 4, 0);
    if (bytesRead === 4 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04) return 'zip';
    return bytesRead >= 1 && head[0] === 0x80 ? 'legacy' : 'other';
  } finally {
    await fh.close();
  }
}

/** Reads a torch.save'd state_dict (or a checkpoint wrapping one) as float32 host tensors. */
export async function readPth(file: string): Promise<Map<string, HostTensor>> {
  let kind: 'zip' | 'legacy' | 'other';
  try {
    kind = await sniff(file);
  } catch (e) {
    throw new Error(`${file}: cannot read PyTorch checkpoint: ${(e as Error).message}`);
  }
  if (kind === 'legacy') throw new PthFormatError(file, 'legacy (pre-1.6, non-zip) torch.save format is not supported; re-save it with a recent torch');
  if (kind === 'other') throw new PthFormatError(file, 'not a zip archive, so not a torch.save checkpoint');

  const zip = await ZipReader.open(file);
  try {
    const prefix = findArchivePrefix(zip);
    const entry = (name: string): ZipEntry => {
      const e = zip.entries.get(`${prefix}${name}`);
      if (e === undefined) throw new PthFormatError(file, `missing archive entry ${prefix}${name}`);
      return e;
    };

    let littleEndian = true;
    const byteorder = zip.entries.get(`${prefix}byteorder`);
    if (byteorder !== undefined) {
      const order = new TextDecoder().decode(await zip.read(byteorder, 16)).trim();
      if (order !== 'little' && order !== 'big') throw new PthFormatError(file, `unknown byteorder "${order}"`);
      littleEndian = order === 'little';
    }

    const root = unpickle(await zip.read(entry('data.pkl'), MAX_PICKLE_BYTES), file, torchHooks(file));
    const stateDict = selectStateDict(root, file);

    // Group tensors by storage so each storage is read once, even when tensors share it.
    const byStorage = new Map<string, { storage: StorageRef; tensors: [string, TensorRef][] }>();
    for (const [key, value] of stateDict.map) {
      if (typeof key !== 'string' || !(value instanceof TensorRef)) continue; // e.g. _extra_state, counters
      const group = byStorage.get(value.storage.key) ?? { storage: value.storage, tensors: [] };
      group.tensors.push([key, value]);
      byStorage.set(value.storage.key, group);
    }

    // Every size, stride and offset is checked against the storages' declared sizes, and those
    // against the archive's entries, before anything is read or allocated.
    const plans: { storage: StorageRef; entry: ZipEntry; bytes: number; tensors: { name: string; t: TensorRef; n: number }[] }[] = [];
    for (const { storage, tensors } of byStorage.values()) {
      const bytes = storage.numel * DTYPE_BYTES[storage.dtype];
      const e = entry(`data/${storage.key}`);
      if (!Number.isSafeInteger(bytes) || e.uncompressedSize !== bytes) {
        throw new PthFormatError(file, `storage ${storage.key} is ${e.uncompressedSize} bytes in the archive, but its ${storage.numel} ${storage.dtype} elements are ${bytes} bytes`);
      }
      let viewed = 0;
      const planned: { name: string; t: TensorRef; n: number }[] = [];
      for (const [name, t] of tensors) {
        const where = `tensor "${name}" (offset ${t.offset}, size [${t.shape.join(', ')}], stride [${t.stride.join(', ')}])`;
        let n: number;
        try {
          n = numel(t.shape);
        } catch (err) {
          throw new PthFormatError(file, `${where}: ${(err as Error).message}`);
        }
        let last = t.offset;
        for (let d = 0; d < t.shape.length; d++) last += (t.shape[d] - 1) * t.stride[d];
        if (n > 0 && !(last < storage.numel)) {
          throw new PthFormatError(file, `${where} reaches past its storage of ${storage.numel} elements`);
        }
        viewed += n;
        planned.push({ name, t, n });
      }
      // Views that repeat elements (stride 0, overlapping strides, several tensors on one storage)
      // are copied out, so what they add up to is bounded by what the storage holds: a few stored
      // values must not claim gigabytes.
      const budget = Math.max(MAX_VIEWS_PER_STORAGE * storage.numel, MIN_VIEW_BUDGET);
      if (viewed > budget) {
        const names = tensors.slice(0, 3).map(([name]) => `"${name}"`).join(', ') + (tensors.length > 3 ? ` and ${tensors.length - 3} more` : '');
        throw new PthFormatError(
          file,
          `tensor${tensors.length === 1 ? '' : 's'} ${names} view storage ${storage.key} of ${storage.numel} elements as ${viewed} elements; more than ${MAX_VIEWS_PER_STORAGE} times a storage's size (or ${MIN_VIEW_BUDGET} elements) is refused`,
        );
      }
      plans.push({ storage, entry: e, bytes, tensors: planned });
    }

    const out = new Map<string, HostTensor>();
    for (const { storage, entry: e, bytes, tensors } of plans) {
      const raw = await zip.read(e, bytes);
      // A fresh float32 buffer in host order can be used as is; everything else is converted.
      const values = storage.dtype === 'float32' && littleEndian && HOST_LITTLE_ENDIAN && raw.byteOffset % 4 === 0
        ? new Float32Array(raw.buffer, raw.byteOffset, storage.numel)
        : decodeToFloat32(raw, storage.dtype, littleEndian);

      for (const { name, t, n } of tensors) {
        let data: Float32Array;
        if (n === 0) data = new Float32Array(0);
        else if (!isContiguous(t.shape, t.stride)) data = gatherStrided(values, t.offset, t.shape, t.stride);
        else if (tensors.length === 1 && t.offset === 0 && n === storage.numel) data = values; // sole owner: no copy
        else data = values.slice(t.offset, t.offset + n);
        out.set(name, { shape: [...t.shape], data });
      }
    }
    return out;
  } finally {
    await zip.close();
  }
}
