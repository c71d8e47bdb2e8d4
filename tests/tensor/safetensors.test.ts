import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { float32ToBfloat16Bits, float32ToFloat16Bits } from '../../shared/tensor/dtype_codec.js';
import type { HostTensor } from '../../shared/tensor/host_tensor.js';
import { hostTensor } from '../../shared/tensor/host_tensor.js';
import {
  encodeSafetensors,
  parseSafetensors,
  parseSafetensorsRaw,
  readSafetensors,
  SafetensorsFormatError,
  writeSafetensors,
} from '../../shared/tensor/safetensors.js';
import { FIXTURES, fixtureDirs } from '../helpers/fixtures.js';

interface Meta {
  config: { dim: number; depth: number; img: number; pdim: number };
  rank: number;
  loss: number;
  sample1: { original_size: [number, number]; input_size: [number, number] };
  sample2: { original_size: [number, number]; input_size: [number, number] };
  trajectory: { steps: number; losses: number[] };
}


const tmp = mkdtempSync(path.join(tmpdir(), 'samlora-st-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function get(m: Map<string, HostTensor>, key: string): HostTensor {
  const t = m.get(key);
  assert.ok(t, `missing tensor ${key}`);
  return t;
}

function shapes(m: Map<string, HostTensor>): Record<string, readonly number[]> {
  return Object.fromEntries([...m].map(([k, t]) => [k, t.shape]));
}

/** A safetensors buffer with a hand-written header (any dtype, any offsets). */
function rawFile(header: unknown, data: Uint8Array, pad = 0): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header) + ' '.repeat(pad));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

const bytesOf = (a: ArrayBufferView): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

describe('safetensors fixtures', () => {
  const dirs = fixtureDirs();
  it('finds fixture directories', () => assert.ok(dirs.length > 0, `no fixtures under ${FIXTURES}`));

  for (const dir of dirs) {
    const name = path.basename(dir);
    const meta = JSON.parse(readFileSync(path.join(dir, 'meta.json'), 'utf8')) as Meta;
    const { dim, depth, img, pdim } = meta.config;
    const r = meta.rank;
    const lora = (prefix: string): Record<string, number[]> => {
      const out: Record<string, number[]> = {};
      for (let i = 0; i < depth; i++) {
        out[`${prefix}blocks.${i}.a_q`] = [r, dim];
        out[`${prefix}blocks.${i}.b_q`] = [dim, r];
        out[`${prefix}blocks.${i}.a_v`] = [r, dim];
        out[`${prefix}blocks.${i}.b_v`] = [dim, r];
      }
      return out;
    };

    it(`${name}: lora and inputs have the README's shapes`, async () => {
      assert.deepEqual(shapes((await readSafetensors(path.join(dir, 'lora.safetensors'))).tensors), lora(''));
      const [h, w] = meta.sample1.input_size;
      const inputs = (await readSafetensors(path.join(dir, 'inputs.safetensors'))).tensors;
      assert.deepEqual(shapes(inputs), { image: [3, h, w], gt_mask: [h, w], box: [4] });
      assert.ok(get(inputs, 'gt_mask').data.every((v) => v === 0 || v === 1));
      assert.ok(get(inputs, 'image').data.every((v) => v >= 0 && v <= 255));
    });

    it(`${name}: expected outputs have the README's shapes`, async () => {
      const [H, W] = meta.sample1.original_size;
      const expected = (await readSafetensors(path.join(dir, 'expected.safetensors'))).tensors;
      assert.deepEqual(shapes(expected), {
        image_embeddings: [1, pdim, img / 16, img / 16],
        low_res_logits: [1, 1, img / 4, img / 4],
        iou_predictions: [1, 1],
        mask_logits: [1, 1, H, W],
        loss: [1],
        ...lora('grad.'),
      });
      assert.equal(get(expected, 'loss').data[0], Math.fround(meta.loss));

      const points = (await readSafetensors(path.join(dir, 'expected_points_multimask.safetensors'))).tensors;
      assert.deepEqual(shapes(points), {
        point_coords: [2, 2],
        point_labels: [2],
        low_res_logits: [1, 3, img / 4, img / 4],
        iou_predictions: [1, 3],
      });
    });

    it(`${name}: trajectory has the README's shapes and meta.json's losses`, async () => {
      const [h2, w2] = meta.sample2.input_size;
      const traj = (await readSafetensors(path.join(dir, 'trajectory.safetensors'))).tensors;
      assert.deepEqual(shapes(traj), {
        image2: [3, h2, w2],
        gt_mask2: [h2, w2],
        box2: [4],
        losses: [meta.trajectory.steps],
        ...lora('final.'),
      });
      assert.deepEqual([...get(traj, 'losses').data], meta.trajectory.losses.map(Math.fround));
    });
  }

  for (const rank of [2, 4]) {
    it(`seed-lora/lora_rank${rank}.safetensors has 24 A/B pairs for ViT-B`, async () => {
      const { tensors } = await readSafetensors(path.join(FIXTURES, 'seed-lora', `lora_rank${rank}.safetensors`));
      const want: Record<string, number[]> = {};
      for (let i = 0; i < 24; i++) {
        const nnn = String(i).padStart(3, '0');
        want[`w_a_${nnn}`] = [rank, 768];
        want[`w_b_${nnn}`] = [768, rank];
      }
      assert.deepEqual(shapes(tensors), want);
    });
  }

  it('readSafetensors and parseSafetensors agree on a fixture', async () => {
    const file = path.join(dirs[0], 'inputs.safetensors');
    const viaRead = await readSafetensors(file);
    const viaParse = parseSafetensors(readFileSync(file), file);
    assert.deepEqual(viaRead, viaParse);
  });
});

describe('safetensors dtypes', () => {
  it('reads F16, BF16, F64, I64, I32, U8 and BOOL as float32', () => {
    const values = [0, 1, -2.5, 65504, 2 ** -24, Infinity];
    const f16 = bytesOf(Uint16Array.from(values.map(float32ToFloat16Bits)));
    const bf16 = bytesOf(Uint16Array.from([1, -3, 2 ** -133, -Infinity].map(float32ToBfloat16Bits)));
    const f64 = bytesOf(Float64Array.from([0.1, -1e39]));
    const i64 = bytesOf(BigInt64Array.from([-3n, 9007199254740993n]));
    const i32 = bytesOf(Int32Array.from([-7, 123456]));
    const u8 = Uint8Array.from([0, 200]);
    const bool = Uint8Array.from([1, 0]);
    const parts = [f16, bf16, f64, i64, i32, u8, bool];
    const offsets: [number, number][] = [];
    let at = 0;
    for (const p of parts) {
      offsets.push([at, at + p.length]);
      at += p.length;
    }
    const data = new Uint8Array(at);
    parts.forEach((p, i) => data.set(p, offsets[i][0]));
    const header = {
      __metadata__: { format: 'pt' },
      h: { dtype: 'F16', shape: [2, 3], data_offsets: offsets[0] },
      b: { dtype: 'BF16', shape: [4], data_offsets: offsets[1] },
      d: { dtype: 'F64', shape: [2], data_offsets: offsets[2] },
      l: { dtype: 'I64', shape: [2], data_offsets: offsets[3] },
      i: { dtype: 'I32', shape: [2], data_offsets: offsets[4] },
      u: { dtype: 'U8', shape: [2], data_offsets: offsets[5] },
      m: { dtype: 'BOOL', shape: [2, 1], data_offsets: offsets[6] },
    };
    const { tensors, metadata } = parseSafetensors(rawFile(header, data), 'mixed.safetensors');
    assert.deepEqual(metadata, { format: 'pt' });
    assert.deepEqual(get(tensors, 'h').shape, [2, 3]);
    assert.deepEqual([...get(tensors, 'h').data], values);
    assert.deepEqual([...get(tensors, 'b').data], [1, -3, 2 ** -133, -Infinity]);
    assert.deepEqual([...get(tensors, 'd').data], [Math.fround(0.1), -Infinity]);
    assert.deepEqual([...get(tensors, 'l').data], [-3, Math.fround(9007199254740992)]);
    assert.deepEqual([...get(tensors, 'i').data], [-7, 123456]);
    assert.deepEqual([...get(tensors, 'u').data], [0, 200]);
    assert.deepEqual([...get(tensors, 'm').data], [1, 0]);

    const raw = parseSafetensorsRaw(rawFile(header, data), 'mixed.safetensors').tensors;
    assert.equal(get(tensors, 'l').data.length, 2);
    const l = raw.get('l');
    assert.ok(l);
    assert.equal(l.dtype, 'int64');
    assert.equal(new DataView(l.bytes.buffer, l.bytes.byteOffset).getBigInt64(8, true), 9007199254740993n);
  });
});

describe('safetensors writing', () => {
  const tensors = new Map<string, HostTensor>([
    ['zeta', hostTensor([2, 2], [1, 2, 3, 4])],
    ['alpha', hostTensor([3], [-1.5, 0, Infinity])],
    ['10', hostTensor([], [7])],
    ['empty', hostTensor([0, 3])],
  ]);

  it('lays out sorted keys after a space-padded, 8-byte aligned header', () => {
    const bytes = encodeSafetensors(tensors, { note: 'hi' });
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    assert.equal(n % 8, 0);
    const text = new TextDecoder().decode(bytes.subarray(8, 8 + n));
    assert.match(text, /^\{.*\} *$/);
    const header = JSON.parse(text) as Record<string, { data_offsets: [number, number] }>;
    // Key order of the JSON text, not of a parsed object (which would move "10" first anyway).
    const order = [...text.matchAll(/"([^"]+)":\{/g)].map((m) => m[1]);
    assert.deepEqual(order, ['__metadata__', '10', 'alpha', 'empty', 'zeta']);
    assert.deepEqual(header['10'].data_offsets, [0, 4]);
    assert.deepEqual(header.alpha.data_offsets, [4, 16]);
    assert.deepEqual(header.empty.data_offsets, [16, 16]);
    assert.deepEqual(header.zeta.data_offsets, [16, 32]);
    assert.equal(bytes.length, 8 + n + 32);
  });

  it('round-trips through writeSafetensors/readSafetensors, atomically', async () => {
    const file = path.join(tmp, 'out.safetensors');
    await writeSafetensors(file, tensors, { step: '12', run: 'a b' });
    const back = await readSafetensors(file);
    assert.deepEqual(back.metadata, { step: '12', run: 'a b' });
    assert.deepEqual([...back.tensors.keys()], ['10', 'alpha', 'empty', 'zeta']);
    for (const [k, t] of tensors) assert.deepEqual(get(back.tensors, k), t);
    // Overwrite with a plain record; no temp files are left behind.
    await writeSafetensors(file, { only: hostTensor([1], [3]) });
    const again = await readSafetensors(file);
    assert.deepEqual(again.metadata, {});
    assert.deepEqual(shapes(again.tensors), { only: [1] });
    assert.deepEqual(readdirSync(tmp), ['out.safetensors']);
  });

  it('round-trips a fixture byte-for-byte in content', async () => {
    const file = path.join(fixtureDirs()[0], 'lora.safetensors');
    const orig = await readSafetensors(file);
    const copy = parseSafetensors(encodeSafetensors(orig.tensors, orig.metadata), 'copy');
    assert.deepEqual(copy, orig);
  });

  it('refuses inconsistent tensors', () => {
    assert.throws(() => encodeSafetensors({ x: { shape: [3], data: new Float32Array(2) } }), /"x": data has 2 elements but shape \[3\] needs 3/);
    assert.throws(() => encodeSafetensors({ __metadata__: hostTensor([1]) }), /reserved/);
  });

  it('reports a failed write with the path', async () => {
    const file = path.join(tmp, 'no-such-dir', 'x.safetensors');
    await assert.rejects(writeSafetensors(file, tensors), (e: Error) => e.message.includes(file));
  });
});

describe('safetensors errors name the file and the problem', () => {
  const good = encodeSafetensors({ a: hostTensor([2], [1, 2]), b: hostTensor([3], [3, 4, 5]) });

  function rejects(buf: Uint8Array, pattern: RegExp): void {
    assert.throws(
      () => parseSafetensors(buf, '/data/model.safetensors'),
      (e: unknown) => {
        assert.ok(e instanceof SafetensorsFormatError);
        assert.match(e.message, /^\/data\/model\.safetensors: /);
        assert.match(e.message, pattern);
        return true;
      },
    );
  }

  it('truncated prefix, header and data', () => {
    rejects(good.subarray(0, 5), /truncated header.*8-byte length prefix/);
    rejects(good.subarray(0, 20), /truncated header: header claims \d+ bytes/);
    rejects(good.subarray(0, good.length - 4), /"b": data_offsets \[8, 20\] out of range/);
  });

  it('corrupt header', () => {
    const bad = Uint8Array.from(good);
    bad[8] = 0x5b; // '[' instead of '{'
    rejects(bad, /not valid UTF-8 JSON|not a JSON object/);
    const huge = Uint8Array.from(good);
    new DataView(huge.buffer).setBigUint64(0, 2n ** 62n, true);
    rejects(huge, /implausibly large/);
  });

  it('unknown dtype, bad shapes and offsets', () => {
    const data = new Uint8Array(8);
    rejects(rawFile({ x: { dtype: 'F8_E4M3', shape: [8], data_offsets: [0, 8] } }, data), /"x": unknown or unsupported dtype "F8_E4M3"/);
    rejects(rawFile({ x: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, data), /"x": shape \[3\] of F32 needs 12 bytes but data_offsets span 8/);
    rejects(rawFile({ x: { dtype: 'F32', shape: [-2], data_offsets: [0, 8] } }, data), /"x": shape is not a list/);
    rejects(rawFile({ x: { dtype: 'F32', shape: [2], data_offsets: [4, 0] } }, data), /"x": data_offsets \[4, 0\] out of range/);
    rejects(rawFile({ x: { dtype: 'F32', shape: [2], data_offsets: [0] } }, data), /"x": data_offsets is not a \[begin, end\] pair/);
    rejects(rawFile({ __metadata__: { a: 1 } }, data), /__metadata__\["a"\] is not a string/);
  });

  it('readSafetensors names the path of a truncated or missing file', async () => {
    const file = path.join(tmp, 'cut.safetensors');
    writeFileSync(file, good.subarray(0, good.length - 1));
    await assert.rejects(readSafetensors(file), (e: Error) => e.message.startsWith(`${file}: `) && /out of range/.test(e.message));
    const missing = path.join(tmp, 'missing.safetensors');
    await assert.rejects(readSafetensors(missing), (e: Error) => e.message.startsWith(`${missing}: `));
  });
});

describe('safetensors with overlapping data offsets', () => {
  it('refuses tensors sharing bytes, before decoding any (a small file claiming many copies of itself)', async () => {
    const header: Record<string, unknown> = {};
    for (let i = 0; i < 1000; i++) header[`t${i}`] = { dtype: 'F32', shape: [1 << 16], data_offsets: [0, 4 << 16] };
    const bytes = rawFile(header, new Uint8Array(4 << 16));
    assert.throws(() => parseSafetensorsRaw(bytes, 'many.safetensors'), (e: unknown) => {
      assert.ok(e instanceof SafetensorsFormatError);
      assert.match(e.message, /^many\.safetensors: invalid safetensors file: tensors "t\d+" \[0, 262144\) and "t\d+" \[0, 262144\) overlap in the data buffer$/);
      return true;
    });
    const file = path.join(tmp, 'overlap.safetensors');
    writeFileSync(file, rawFile({ a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] }, b: { dtype: 'F32', shape: [2], data_offsets: [12, 20] } }, new Uint8Array(20)));
    await assert.rejects(readSafetensors(file), /"a" \[0, 16\) and "b" \[12, 20\) overlap/);
  });

  it('still accepts adjacent and empty tensors', () => {
    const ok = rawFile(
      { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, e: { dtype: 'F32', shape: [0], data_offsets: [4, 4] }, b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] } },
      new Uint8Array(12),
    );
    assert.deepEqual([...parseSafetensors(ok, 'ok').tensors.keys()], ['a', 'e', 'b']);
  });
});
