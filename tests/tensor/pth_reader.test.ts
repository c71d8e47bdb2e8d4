import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { PthFormatError, readPth, UnsafePickleError } from '../../shared/tensor/pth_reader.js';
import { float32ToBfloat16Bits, float32ToFloat16Bits } from '../../shared/tensor/dtype_codec.js';
import type { HostTensor } from '../../shared/tensor/host_tensor.js';
import type { SamConfig } from '../../shared/sam/config.js';
import { FIXTURES, fixtureDirs } from '../helpers/fixtures.js';
import type { TensorSpec } from './pth_test_helpers.js';
import { buildPth, buildZip, float32Bytes, PickleWriter, stateDictPickle, writeTensor } from './pth_test_helpers.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'samlora-pth-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
let counter = 0;
function tmpFile(bytes: Uint8Array, name = 'model.pth'): string {
  const file = path.join(tmp, `${counter++}-${name}`);
  writeFileSync(file, bytes);
  return file;
}

function get(m: Map<string, HostTensor>, key: string): HostTensor {
  const t = m.get(key);
  assert.ok(t, `missing tensor ${key}`);
  return t;
}

function close(actual: Float32Array, expected: readonly number[]): void {
  assert.deepEqual([...actual], [...Float32Array.from(expected)]);
}

describe('readPth on the fixture checkpoints', () => {
  const dirs = fixtureDirs();
  it('finds fixture directories', () => assert.ok(dirs.length > 0, `no fixtures under ${FIXTURES}`));

  for (const dir of dirs) {
    it(`loads ${path.basename(dir)}/sam.pth with shapes matching meta.json`, async () => {
      const { config } = JSON.parse(readFileSync(path.join(dir, 'meta.json'), 'utf8')) as { config: SamConfig };
      const m = await readPth(path.join(dir, 'sam.pth'));
      const grid = config.img / 16;
      const headDim = config.dim / config.heads;
      assert.deepEqual(get(m, 'image_encoder.patch_embed.proj.weight').shape, [config.dim, 3, 16, 16]);
      assert.deepEqual(get(m, 'image_encoder.patch_embed.proj.bias').shape, [config.dim]);
      assert.deepEqual(get(m, 'image_encoder.pos_embed').shape, [1, grid, grid, config.dim]);
      for (let i = 0; i < config.depth; i++) {
        assert.deepEqual(get(m, `image_encoder.blocks.${i}.attn.qkv.weight`).shape, [3 * config.dim, config.dim]);
        const span = config.glob.includes(i) ? grid : config.window;
        assert.deepEqual(get(m, `image_encoder.blocks.${i}.attn.rel_pos_h`).shape, [2 * span - 1, headDim]);
      }
      assert.ok(!m.has(`image_encoder.blocks.${config.depth}.attn.qkv.weight`));
      assert.deepEqual(get(m, 'image_encoder.neck.0.weight').shape, [config.pdim, config.dim, 1, 1]);
      assert.deepEqual(get(m, 'mask_decoder.mask_tokens.weight').shape, [4, config.pdim]);
      assert.deepEqual(get(m, 'prompt_encoder.pe_layer.positional_encoding_gaussian_matrix').shape, [2, config.pdim / 2]);
      for (const [key, t] of m) {
        assert.equal(t.data.length, t.shape.reduce((a, b) => a * b, 1), key);
        assert.ok(t.data.every(Number.isFinite), `${key} has non-finite values`);
      }
    });
  }
});

describe('readPth on synthetic checkpoints', () => {
  const f16 = (xs: number[]): Uint8Array => new Uint8Array(Uint16Array.from(xs.map(float32ToFloat16Bits)).buffer);
  const bf16 = (xs: number[]): Uint8Array => new Uint8Array(Uint16Array.from(xs.map(float32ToBfloat16Bits)).buffer);

  const specs: Record<string, TensorSpec> = {
    // A 2x3 matrix and its transpose sharing one storage (the transpose is non-contiguous).
    w: { storageType: 'FloatStorage', storageKey: '0', storageNumel: 6, offset: 0, size: [2, 3], stride: [3, 1] },
    wt: { storageType: 'FloatStorage', storageKey: '0', storageNumel: 6, offset: 0, size: [3, 2], stride: [1, 3] },
    // Column 1 of a [2, 4] storage at offset 4 (a strided, offset view).
    col: { storageType: 'FloatStorage', storageKey: '1', storageNumel: 12, offset: 4, size: [2, 1], stride: [4, 1] },
    half: { storageType: 'HalfStorage', storageKey: '2', storageNumel: 4, offset: 1, size: [3], stride: [1] },
    brain: { storageType: 'BFloat16Storage', storageKey: '3', storageNumel: 2, offset: 0, size: [2], stride: [1] },
    dbl: { storageType: 'DoubleStorage', storageKey: '4', storageNumel: 2, offset: 0, size: [2], stride: [1] },
    step: { storageType: 'LongStorage', storageKey: '5', storageNumel: 1, offset: 0, size: [], stride: [] },
    mask: { storageType: 'BoolStorage', storageKey: '6', storageNumel: 3, offset: 0, size: [3], stride: [1] },
    empty: { storageType: 'FloatStorage', storageKey: '7', storageNumel: 0, offset: 0, size: [0, 5], stride: [5, 1] },
    param: { storageType: 'FloatStorage', storageKey: '8', storageNumel: 2, offset: 0, size: [2], stride: [1], parameter: true },
    // Broadcast (stride 0) view, as expand() produces.
    bcast: { storageType: 'IntStorage', storageKey: '9', storageNumel: 2, offset: 0, size: [3, 2], stride: [0, 1] },
  };
  const storages: Record<string, Uint8Array> = {
    '0': float32Bytes([1, 2, 3, 4, 5, 6]),
    '1': float32Bytes([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]),
    '2': f16([9, 0.5, -2, 65504]),
    '3': bf16([1.5, -3]),
    '4': new Uint8Array(Float64Array.from([0.25, -1e300]).buffer),
    '5': new Uint8Array(BigInt64Array.from([-42n]).buffer),
    '6': Uint8Array.from([1, 0, 1]),
    '7': new Uint8Array(0),
    '8': float32Bytes([7, 8]),
    '9': new Uint8Array(Int32Array.from([-1, 2]).buffer),
  };

  function checkAll(m: Map<string, HostTensor>): void {
    assert.deepEqual([...m.keys()].sort(), Object.keys(specs).sort());
    assert.deepEqual(get(m, 'w').shape, [2, 3]);
    close(get(m, 'w').data, [1, 2, 3, 4, 5, 6]);
    assert.deepEqual(get(m, 'wt').shape, [3, 2]);
    close(get(m, 'wt').data, [1, 4, 2, 5, 3, 6]);
    close(get(m, 'col').data, [4, 8]);
    close(get(m, 'half').data, [0.5, -2, 65504]);
    close(get(m, 'brain').data, [1.5, -3]);
    close(get(m, 'dbl').data, [0.25, -Infinity]);
    assert.deepEqual(get(m, 'step').shape, []);
    close(get(m, 'step').data, [-42]);
    close(get(m, 'mask').data, [1, 0, 1]);
    assert.deepEqual(get(m, 'empty').shape, [0, 5]);
    assert.equal(get(m, 'empty').data.length, 0);
    close(get(m, 'param').data, [7, 8]);
    close(get(m, 'bcast').data, [-1, 2, -1, 2, -1, 2]);
  }

  it('decodes every storage dtype, offsets, strides, shared storages and parameters', async () => {
    const m = await readPth(tmpFile(buildPth(stateDictPickle(specs), storages)));
    checkAll(m);
    // Tensors sharing a storage must not alias each other.
    get(m, 'w').data[0] = 100;
    assert.equal(get(m, 'wt').data[0], 1);
  });

  it('reads zip64 archives and deflated entries', async () => {
    checkAll(await readPth(tmpFile(buildPth(stateDictPickle(specs), storages, { zip64: true }))));
    checkAll(await readPth(tmpFile(buildPth(stateDictPickle(specs), storages, { deflate: true, archive: 'my_model' }))));
  });

  it('honours byteorder "big"', async () => {
    const be = new Uint8Array(8);
    new DataView(be.buffer).setFloat32(0, 1.25, false);
    new DataView(be.buffer).setFloat32(4, -6, false);
    const pkl = stateDictPickle({ x: { storageType: 'FloatStorage', storageKey: '0', storageNumel: 2, offset: 0, size: [2], stride: [1] } });
    const m = await readPth(tmpFile(buildPth(pkl, { '0': be }, { byteorder: 'big' })));
    close(get(m, 'x').data, [1.25, -6]);
  });

  for (const wrapKey of ['model', 'state_dict']) {
    it(`unwraps a checkpoint that nests the state_dict under "${wrapKey}"`, async () => {
      checkAll(await readPth(tmpFile(buildPth(stateDictPickle(specs, wrapKey), storages))));
    });
  }

  it('reads a protocol-4 pickle written by CPython (FRAME, MEMOIZE, STACK_GLOBAL, SHORT_BINUNICODE, LONG1)', async () => {
    // pickle.Pickler(protocol=4) of {'epoch': 3, 'lr': 0.5, 'big': 2**70, 'neg': -5, 'model': sd,
    // 'flags': [True, None, b'xy']}, where sd = OrderedDict(w=[2,3] view of FloatStorage '0',
    // wt = its transpose, h = HalfStorage '1'[1:4]) and sd._metadata set, torch's persistent ids.
    const pkl = Buffer.from(
      'gASVfgEAAAAAAAB9lCiMBWVwb2NolEsDjAJscpRHP+AAAAAAAACMA2JpZ5SKCQAAAAAAAAAAQIwDbmVnlEr7////jAVtb2RlbJSMC2NvbGxlY3Rpb25zlIwLT3JkZXJlZERpY3SUk5QpUpQojAF3lIwMdG9yY2guX3V0aWxzlIwSX3JlYnVpbGRfdGVuc29yX3YylJOUKCiMB3N0b3JhZ2WUjAV0b3JjaJSMDEZsb2F0U3RvcmFnZZSTlIwBMJSMA2NwdZRLBnSUUUsASwJLA4aUSwNLAYaUiWgIKVKUdJRSlIwCd3SUaA0oKGgOaBFoEmgTSwZ0lFFLAEsDSwKGlEsBSwOGlIloCClSlHSUUpSMAWiUaA0oKGgOaA+MC0hhbGZTdG9yYWdllJOUjAExlGgTSwR0lFFLAUsDhZRLAYWUiWgIKVKUdJRSlHV9lIwJX21ldGFkYXRhlGgIKVKUjACUfZSMB3ZlcnNpb26USwFzc3NijAVmbGFnc5RdlCiITkMCeHmUZXUu',
      'base64',
    );
    const m = await readPth(tmpFile(buildPth(pkl, { '0': float32Bytes([1, 2, 3, 4, 5, 6]), '1': f16([0, 1, 2, 3]) })));
    assert.deepEqual([...m.keys()], ['w', 'wt', 'h']);
    close(get(m, 'w').data, [1, 2, 3, 4, 5, 6]);
    close(get(m, 'wt').data, [1, 4, 2, 5, 3, 6]);
    close(get(m, 'h').data, [1, 2, 3]);
  });
});

describe('readPth refuses unsafe pickles', () => {
  async function rejectsGlobal(pkl: Uint8Array, global: string): Promise<void> {
    const file = tmpFile(buildPth(pkl, {}), 'evil.pth');
    await assert.rejects(readPth(file), (e: unknown) => {
      assert.ok(e instanceof UnsafePickleError, `expected UnsafePickleError, got ${String(e)}`);
      assert.equal(e.global, global);
      assert.ok(e.message.includes(file), e.message);
      assert.ok(e.message.includes(global), e.message);
      return true;
    });
  }

  it('rejects GLOBAL os.system + REDUCE', async () => {
    const w = new PickleWriter().proto(2).global('os', 'system').mark().str('touch /tmp/pwned').op(0x74).reduce().stop();
    await rejectsGlobal(w.bytes(), 'os.system');
  });

  it('rejects GLOBAL builtins.eval', async () => {
    const w = new PickleWriter().proto(2).global('builtins', 'eval').str('1+1').op(0x85).reduce().stop();
    await rejectsGlobal(w.bytes(), 'builtins.eval');
  });

  it('rejects STACK_GLOBAL posix.system and subprocess.Popen', async () => {
    const w = new PickleWriter().proto(4).stackGlobal('posix', 'system').str('id').op(0x85).reduce().stop();
    await rejectsGlobal(w.bytes(), 'posix.system');
    const w2 = new PickleWriter().proto(4).stackGlobal('subprocess', 'Popen').str('id').op(0x85).reduce().stop();
    await rejectsGlobal(w2.bytes(), 'subprocess.Popen');
  });

  it('rejects a hostile global hidden inside an otherwise valid state_dict', async () => {
    const w = new PickleWriter().proto(2).global('collections', 'OrderedDict').emptyTuple().reduce().mark();
    w.str('ok');
    writeTensor(w, { storageType: 'FloatStorage', storageKey: '0', storageNumel: 1, offset: 0, size: [1], stride: [1] });
    w.str('boom').global('torch', 'load').str('x').op(0x85).reduce().setitems().stop();
    await rejectsGlobal(w.bytes(), 'torch.load');
  });

  it('rejects allow-listed-looking names from other modules', async () => {
    const w = new PickleWriter().proto(2).global('torch.serialization', 'FloatStorage').stop();
    await rejectsGlobal(w.bytes(), 'torch.serialization.FloatStorage');
  });
});

describe('readPth errors name the file', () => {
  const good = buildPth(
    stateDictPickle({ x: { storageType: 'FloatStorage', storageKey: '0', storageNumel: 4, offset: 0, size: [4], stride: [1] } }),
    { '0': float32Bytes([1, 2, 3, 4]) },
  );

  async function rejectsWith(bytes: Uint8Array, pattern: RegExp): Promise<void> {
    const file = tmpFile(bytes, 'broken.pth');
    await assert.rejects(readPth(file), (e: unknown) => {
      assert.ok(e instanceof Error);
      assert.ok(e.message.includes(file), `message does not name the file: ${e.message}`);
      assert.match(e.message, pattern);
      return true;
    });
  }

  it('accepts the untouched control file', async () => {
    close(get(await readPth(tmpFile(good)), 'x').data, [1, 2, 3, 4]);
  });

  it('reports a truncated archive', async () => {
    await rejectsWith(good.subarray(0, good.length - 30), /end-of-central-directory|truncated/);
    await rejectsWith(good.subarray(0, 100), /end-of-central-directory|truncated/);
  });

  it('reports corrupt storage bytes (CRC mismatch)', async () => {
    const bad = Uint8Array.from(good);
    const at = Buffer.from(bad).indexOf(Buffer.from(float32Bytes([1, 2, 3, 4])));
    assert.ok(at > 0);
    bad[at + 5] ^= 0xff;
    await rejectsWith(bad, /CRC-32 mismatch/);
  });

  it('reports a storage too small for its tensor', async () => {
    const pkl = stateDictPickle({ x: { storageType: 'FloatStorage', storageKey: '0', storageNumel: 4, offset: 2, size: [3], stride: [1] } });
    await rejectsWith(buildPth(pkl, { '0': float32Bytes([1, 2, 3, 4]) }), /reaches past its storage/);
    await rejectsWith(buildPth(pkl, { '0': float32Bytes([1, 2]) }), /storage 0 is 8 bytes in the archive, but its 4 float32 elements are 16 bytes/);
  });

  it('reports a missing storage entry and a missing data.pkl', async () => {
    const pkl = stateDictPickle({ x: { storageType: 'FloatStorage', storageKey: '3', storageNumel: 1, offset: 0, size: [1], stride: [1] } });
    await rejectsWith(buildPth(pkl, {}), /missing archive entry archive\/data\/3/);
    await rejectsWith(buildZip([{ name: 'archive/other.txt', data: new Uint8Array(3) }]), /no <archive>\/data\.pkl/);
  });

  it('reports non-zip and legacy files', async () => {
    await rejectsWith(new TextEncoder().encode('hello world'), /not a zip archive/);
    await rejectsWith(Uint8Array.from([0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc]), /legacy/);
  });

  it('reports a malformed pickle', async () => {
    const truncated = new PickleWriter().proto(2).op(0x58, 0xff, 0, 0, 0).bytes();
    await rejectsWith(buildPth(truncated, {}), /malformed pickle: truncated/);
    const unknown = new PickleWriter().proto(2).op(0xff).bytes();
    await rejectsWith(buildPth(unknown, {}), /unsupported opcode 0xff/);
    const noTensors = new PickleWriter().proto(2).emptyDict().str('epoch').int(3).setitem().stop().bytes();
    await rejectsWith(buildPth(noTensors, {}), /no tensors/);
  });

  it('uses a PthFormatError for checkpoint-level problems', async () => {
    const file = tmpFile(new TextEncoder().encode('nope'));
    await assert.rejects(readPth(file), PthFormatError);
    await assert.rejects(readPth(path.join(tmp, 'does-not-exist.pth')), /does-not-exist\.pth/);
  });
});

describe('small .pth files that claim huge tensors', () => {
  async function refused(bytes: Uint8Array, pattern: RegExp): Promise<void> {
    const file = tmpFile(bytes, 'hostile.pth');
    const before = process.memoryUsage().arrayBuffers;
    await assert.rejects(readPth(file), (e: unknown) => {
      assert.ok(e instanceof PthFormatError || (e instanceof Error && e.name === 'ZipFormatError') || (e instanceof Error && e.name === 'PickleFormatError'), String(e));
      assert.ok(e.message.startsWith(`${file}: `), e.message);
      assert.match(e.message, pattern);
      return true;
    });
    // Refused before allocating: nothing near the claimed size was held (the attacks reached gigabytes).
    assert.ok(process.memoryUsage().arrayBuffers - before < 64 * 1024 * 1024);
  }

  it('refuses a stride-0 view of 2^32 elements over one stored value', async () => {
    const pkl = stateDictPickle({ x: { storageType: 'FloatStorage', storageKey: '0', storageNumel: 1, offset: 0, size: [65536, 65536], stride: [0, 0] } });
    const bytes = buildPth(pkl, { '0': float32Bytes([1]) });
    assert.ok(bytes.length < 1024);
    await refused(bytes, /tensor "x" view storage 0 of 1 elements as 4294967296 elements; more than 4 times/);
  });

  it('refuses many tensors viewing one storage many times over', async () => {
    const tensors: Record<string, TensorSpec> = {};
    for (let i = 0; i < 20; i++) tensors[`t${i}`] = { storageType: 'FloatStorage', storageKey: '0', storageNumel: 1 << 18, offset: 0, size: [1 << 18], stride: [1] };
    await refused(buildPth(stateDictPickle(tensors), { '0': new Uint8Array(4 << 18) }), /tensors "t0", "t1", "t2" and 17 more view storage 0 of 262144 elements as 5242880 elements/);
  });

  it('refuses a deflated storage that inflates past what its tensors declare, without inflating it', async () => {
    const pkl = stateDictPickle({ x: { storageType: 'FloatStorage', storageKey: '0', storageNumel: 1, offset: 0, size: [1], stride: [1] } });
    const bytes = buildPth(pkl, { '0': new Uint8Array(128 * 1024 * 1024) }, { deflate: true });
    assert.ok(bytes.length < 1024 * 1024, `${bytes.length} bytes`);
    await refused(bytes, /storage 0 is 134217728 bytes in the archive, but its 1 float32 elements are 4 bytes/);
  });

  it('refuses a pickled integer too long to convert in bounded time', async () => {
    const huge = new PickleWriter().proto(2).op(0x8b, 0x00, 0x00, 0x10, 0x00);
    for (let i = 0; i < 1 << 20; i += 4096) huge.op(...new Array<number>(4096).fill(0x7f));
    await refused(buildPth(huge.stop().bytes(), {}), /LONG4 of 1048576 bytes: integers over 2048 bytes are refused/);
  });
});
