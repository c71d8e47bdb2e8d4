import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { type SamConfig, VARIANTS } from '../../shared/sam/config.js';
import { initLora, type LoraSpec } from '../../shared/sam/lora.js';
import { checkLoraFitsModel, loadLora, loraInfo, saveLora } from '../../shared/sam/lora_io.js';
import type { HostTensor } from '../../shared/tensor/host_tensor.js';
import { parseSafetensors, parseSafetensorsRaw, writeSafetensors } from '../../shared/tensor/safetensors.js';
import { FIXTURES, fixtureDirs, readMeta, repoRoot } from '../helpers/fixtures.js';

const SEED_DIR = path.join(FIXTURES, 'seed-lora');
const seedFiles = existsSync(SEED_DIR)
  ? readdirSync(SEED_DIR)
      .filter((f) => f.endsWith('.safetensors'))
      .sort()
      .map((f) => path.join(SEED_DIR, f))
  : [];

const tmp = mkdtempSync(path.join(tmpdir(), 'samlora-lora-io-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
let tmpCount = 0;
const tmpFile = (name: string): string => path.join(tmp, `${tmpCount++}-${name}`);

/** Each tensor's stored bytes, by key. */
function rawTensors(file: string): Map<string, { dtype: string; shape: number[]; bytes: Buffer }> {
  const { tensors } = parseSafetensorsRaw(readFileSync(file), file);
  return new Map([...tensors].map(([k, t]) => [k, { dtype: t.dtype, shape: t.shape, bytes: Buffer.from(t.bytes) }]));
}

function assertSameTensorBytes(a: string, b: string): void {
  const ta = rawTensors(a);
  const tb = rawTensors(b);
  assert.deepEqual([...tb.keys()].sort(), [...ta.keys()].sort(), `${a} and ${b} hold different keys`);
  for (const [k, t] of ta) {
    const u = tb.get(k)!;
    assert.equal(u.dtype, t.dtype, `${k}: dtype`);
    assert.deepEqual(u.shape, t.shape, `${k}: shape`);
    assert.ok(u.bytes.equals(t.bytes), `${k}: tensor bytes differ`);
  }
}

/** A small custom SAM config (only dim and depth matter to LoRA shapes). */
const SMALL: SamConfig = { dim: 16, depth: 4, heads: 2, glob: [3], img: 64, window: 2, pdim: 16, dmlp: 32, dheads: 2, iouh: 16 };

/** initLora with B filled too, so round trips are not checking zeros. */
function randomLora(cfg: SamConfig, spec: LoraSpec, seed: number): Map<string, HostTensor> {
  const tensors = initLora(cfg, spec, seed);
  let x = seed + 1;
  for (const [key, t] of tensors) {
    if (key.includes('.b_')) for (let i = 0; i < t.data.length; i++) t.data[i] = ((x = (x * 1103515245 + 12345) % 2147483648) / 2147483648) - 0.5;
  }
  return tensors;
}

const rankFromName = (file: string): number | undefined => {
  const m = /rank(\d+)/.exec(path.basename(file));
  return m ? Number(m[1]) : undefined;
};

describe('seed LoRA files (reference format)', () => {
  it('finds the seed LoRA files', () => assert.ok(seedFiles.length > 0, `no *.safetensors under ${SEED_DIR}`));

  for (const file of seedFiles) {
    const name = path.basename(file);
    it(`${name} loads as reference format, q and v on 12 blocks, and fits ViT-B`, async () => {
      const { tensors, spec, format, dim } = await loadLora(file);
      assert.equal(format, 'reference');
      assert.deepEqual(spec.blocks, [...Array(12).keys()]);
      assert.deepEqual(spec.targets, ['q', 'v']);
      assert.equal(spec.alpha, spec.rank);
      assert.equal(dim, 768);
      const named = rankFromName(file);
      if (named !== undefined) assert.equal(spec.rank, named, 'rank from the shapes vs the file name');
      assert.equal(tensors.size, 48);
      for (const key of tensors.keys()) assert.match(key, /^blocks\.\d+\.[ab]_[qv]$/);
      // w_a_000 is block 0 q's A, w_b_003 is block 1 v's B.
      const raw = parseSafetensors(readFileSync(file), file).tensors;
      assert.deepEqual(tensors.get('blocks.0.a_q')!.data, raw.get('w_a_000')!.data);
      assert.deepEqual(tensors.get('blocks.0.b_v')!.data, raw.get('w_b_001')!.data);
      assert.deepEqual(tensors.get('blocks.1.b_v')!.data, raw.get('w_b_003')!.data);
      assert.deepEqual(tensors.get('blocks.11.a_v')!.data, raw.get('w_a_023')!.data);
      checkLoraFitsModel(spec, tensors, VARIANTS.vit_b, file);
    });

    it(`${name} does not fit ViT-L: the error lists every mismatch`, async () => {
      const { tensors, spec } = await loadLora(file);
      assert.throws(
        () => checkLoraFitsModel(spec, tensors, VARIANTS.vit_l, file),
        (e: Error) => {
          assert.ok(e.message.includes(file), e.message);
          assert.match(e.message, /48 mismatches/);
          assert.ok(e.message.includes(`blocks.0.a_q: [${spec.rank}, 768] but the model needs [${spec.rank}, 1024]`), e.message);
          assert.ok(e.message.includes(`blocks.11.b_v: [768, ${spec.rank}] but the model needs [1024, ${spec.rank}]`), e.message);
          return true;
        },
      );
    });

    it(`${name}: reference -> native -> reference keeps keys and tensor bytes`, async () => {
      const a = await loadLora(file);
      const nativeFile = tmpFile('native.safetensors');
      await saveLora(nativeFile, a.tensors, a.spec, 'native');
      const b = await loadLora(nativeFile);
      assert.equal(b.format, 'native');
      assert.deepEqual(b.spec, a.spec);
      const refFile = tmpFile('reference.safetensors');
      await saveLora(refFile, b.tensors, b.spec, 'reference');
      assertSameTensorBytes(file, refFile);
      const c = await loadLora(refFile);
      assert.equal(c.format, 'reference');
      assert.deepEqual(c.spec, a.spec);
    });
  }
});

describe('fixture lora.safetensors (native, no metadata)', () => {
  const dirs = fixtureDirs();
  it('finds fixture directories', () => assert.ok(dirs.length > 0, `no fixtures under ${FIXTURES}`));

  for (const dir of dirs) {
    const file = path.join(dir, 'lora.safetensors');
    it(`${path.basename(dir)}/lora.safetensors loads as native and fits its meta.json config`, async () => {
      const meta = readMeta(dir);
      const { tensors, spec, format, dim } = await loadLora(file);
      assert.equal(format, 'native');
      assert.equal(spec.rank, meta.rank);
      assert.equal(spec.alpha, meta.rank);
      assert.deepEqual(spec.blocks, [...Array(meta.config.depth).keys()]);
      assert.deepEqual(spec.targets, ['q', 'v']);
      assert.equal(dim, meta.config.dim);
      checkLoraFitsModel(spec, tensors, meta.config, file);
      assert.throws(() => checkLoraFitsModel(spec, tensors, { ...meta.config, dim: meta.config.dim * 2 }, file), /does not fit/);
    });

    it(`${path.basename(dir)}/lora.safetensors: native -> reference -> native keeps keys and tensor bytes`, async () => {
      const a = await loadLora(file);
      const refFile = tmpFile('reference.safetensors');
      await saveLora(refFile, a.tensors, a.spec, 'reference');
      const b = await loadLora(refFile);
      assert.equal(b.format, 'reference');
      assert.deepEqual(b.spec, a.spec);
      const nativeFile = tmpFile('native.safetensors');
      await saveLora(nativeFile, b.tensors, b.spec, 'native');
      assertSameTensorBytes(file, nativeFile);
      const c = await loadLora(nativeFile);
      assert.equal(c.format, 'native');
      assert.deepEqual(c.spec, a.spec);
    });
  }
});

describe('native format with metadata', () => {
  it('keeps alpha, blocks and every target through a save/load', async () => {
    const spec: LoraSpec = { rank: 3, alpha: 6, blocks: [1, 3], targets: ['q', 'k', 'v', 'proj', 'lin1', 'lin2'] };
    const tensors = randomLora(SMALL, spec, 7);
    const file = tmpFile('all-targets.safetensors');
    await saveLora(file, tensors, spec, 'native');
    const { metadata } = parseSafetensorsRaw(readFileSync(file), file);
    assert.deepEqual(metadata, { format: 'sam-lora', rank: '3', alpha: '6', blocks: '[1,3]', targets: '["q","k","v","proj","lin1","lin2"]', version: '1' });
    const back = await loadLora(file);
    assert.equal(back.format, 'native');
    assert.deepEqual(back.spec, spec);
    assert.equal(back.dim, SMALL.dim);
    for (const [k, t] of tensors) assert.deepEqual(back.tensors.get(k), t, k);
    checkLoraFitsModel(back.spec, back.tensors, SMALL, file);
    const info = await loraInfo(file);
    assert.deepEqual(info, { file, format: 'native', rank: 3, alpha: 6, blocks: [1, 3], targets: spec.targets, tensors: 24, dim: 16 });
  });

  it('keeps mask-decoder adapters (decoderTargets), with and without metadata', async () => {
    const spec: LoraSpec = { rank: 2, alpha: 2, blocks: [0, 1, 2, 3], targets: ['q', 'v'], decoderTargets: ['q_proj', 'v_proj'] };
    const tensors = randomLora(SMALL, spec, 11);
    assert.ok([...tensors.keys()].some((k) => k.startsWith('mask_decoder.')), 'the spec has decoder adapters');
    const file = tmpFile('decoder.safetensors');
    await saveLora(file, tensors, spec, 'native');
    assert.equal(parseSafetensorsRaw(readFileSync(file), file).metadata.decoderTargets, '["q_proj","v_proj"]');
    const back = await loadLora(file);
    assert.deepEqual(back.spec, spec);
    checkLoraFitsModel(back.spec, back.tensors, SMALL, file);
    assert.deepEqual((await loraInfo(file)).decoderTargets, ['q_proj', 'v_proj']);
    // Without metadata the decoder targets are inferred from the keys.
    const bare = tmpFile('decoder-bare.safetensors');
    await writeSafetensors(bare, tensors);
    assert.deepEqual((await loadLora(bare)).spec, spec);
    // A missing decoder adapter is named.
    const partial = new Map(tensors);
    const dropped = [...partial.keys()].find((k) => k.endsWith('v_proj.lora_b'))!;
    partial.delete(dropped);
    await writeSafetensors(bare, partial);
    await assert.rejects(loadLora(bare), (e: Error) => e.message.includes(bare) && e.message.includes(`missing ${dropped}`));
    // The reference format cannot hold them.
    await assert.rejects(saveLora(tmpFile('decoder-ref.safetensors'), tensors, spec, 'reference'), /mask-decoder adapters \(q_proj,v_proj\)/);
  });

  it('rejects metadata that disagrees with the tensors', async () => {
    const spec: LoraSpec = { rank: 2, alpha: 2, blocks: [0, 1], targets: ['q', 'v'] };
    const tensors = randomLora(SMALL, spec, 1);
    const file = tmpFile('bad-meta.safetensors');
    await writeSafetensors(file, tensors, { format: 'sam-lora', rank: '2', alpha: '2', blocks: '[0,1,2]', targets: '["q","v"]', version: '1' });
    await assert.rejects(loadLora(file), (e: Error) => e.message.includes(file) && e.message.includes('missing blocks.2.a_q'));
    await writeSafetensors(file, tensors, { format: 'sam-lora', rank: '5', alpha: '2', blocks: '[0,1]', targets: '["q","v"]', version: '1' });
    await assert.rejects(loadLora(file), /metadata says rank 5 but the tensors have rank 2/);
    await writeSafetensors(file, tensors, { format: 'sam-lora', rank: '2', alpha: '2', blocks: '[0,1]', targets: '["q","v"]', version: '9' });
    await assert.rejects(loadLora(file), /unsupported sam-lora metadata version "9"/);
  });
});

describe('reference format limits', () => {
  const cases: [string, LoraSpec, RegExp][] = [
    ['k target', { rank: 2, alpha: 2, blocks: [0, 1, 2, 3], targets: ['q', 'k', 'v'] }, /targets are q,k,v but the reference format holds exactly q and v/],
    ['proj target', { rank: 2, alpha: 2, blocks: [0, 1, 2, 3], targets: ['proj'] }, /targets are proj but the reference format holds exactly q and v/],
    ['alpha != rank', { rank: 2, alpha: 4, blocks: [0, 1, 2, 3], targets: ['q', 'v'] }, /alpha 4 != rank 2 .*always applies scale 1/],
    ['blocks not from 0', { rank: 2, alpha: 2, blocks: [1, 2], targets: ['q', 'v'] }, /blocks 1,2 are not 0\.\.1/],
    ['blocks with a gap', { rank: 2, alpha: 2, blocks: [0, 2], targets: ['q', 'v'] }, /cannot skip a block/],
  ];
  for (const [what, spec, why] of cases) {
    it(`a LoRA with ${what} cannot be saved as reference, and nothing is written`, async () => {
      const file = tmpFile('ref.safetensors');
      const tensors = randomLora(SMALL, spec, 3);
      await assert.rejects(saveLora(file, tensors, spec, 'reference'), (e: Error) => {
        assert.ok(e.message.includes(file), e.message);
        assert.match(e.message, /cannot save this LoRA in the reference format/);
        assert.match(e.message, why);
        return true;
      });
      assert.equal(existsSync(file), false);
      await saveLora(file, tensors, spec, 'native'); // native can say it
      assert.deepEqual((await loadLora(file)).spec, spec);
    });
  }

  it('refuses tensors that are not the spec', async () => {
    const spec: LoraSpec = { rank: 2, alpha: 2, blocks: [0, 1], targets: ['q', 'v'] };
    const tensors = randomLora(SMALL, spec, 3);
    await assert.rejects(saveLora(tmpFile('x.safetensors'), tensors, { ...spec, blocks: [0, 1, 2] }, 'native'), /missing blocks\.2\.a_q/);
    await assert.rejects(saveLora(tmpFile('x.safetensors'), tensors, { ...spec, rank: 3, alpha: 3 }, 'native'), /spec says rank 3 but the tensors have rank 2/);
  });
});

describe('files that are not LoRA files', () => {
  const t = (shape: number[]): HostTensor => ({ shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) });

  it('unrelated keys: the error names the file and the keys', async () => {
    const file = tmpFile('unrelated.safetensors');
    await writeSafetensors(file, new Map([['image_encoder.patch_embed.proj.weight', t([4, 3])], ['mask_decoder.iou_token.weight', t([1, 4])]]));
    await assert.rejects(loadLora(file), (e: Error) => {
      assert.ok(e.message.includes(file), e.message);
      assert.match(e.message, /neither the native format .* nor the reference format/);
      assert.ok(e.message.includes('image_encoder.patch_embed.proj.weight') && e.message.includes('mask_decoder.iou_token.weight'), e.message);
      return true;
    });
  });

  it('some LoRA keys plus an unrelated one: names the unrelated key', async () => {
    const file = tmpFile('extra.safetensors');
    await writeSafetensors(file, new Map([['blocks.0.a_q', t([2, 8])], ['blocks.0.b_q', t([8, 2])], ['blocks.0.alpha', t([1])]]));
    await assert.rejects(loadLora(file), (e: Error) => e.message.includes(file) && /unrecognised keys blocks\.0\.alpha$/.test(e.message));
  });

  it('inconsistent ranks name the keys of each rank', async () => {
    const file = tmpFile('ranks.safetensors');
    await writeSafetensors(file, new Map([['w_a_000', t([2, 8])], ['w_b_000', t([8, 2])], ['w_a_001', t([4, 8])], ['w_b_001', t([8, 4])]]));
    await assert.rejects(loadLora(file), (e: Error) => {
      assert.ok(e.message.includes(file), e.message);
      assert.match(e.message, /inconsistent ranks .*rank 2 in w_a_000, w_b_000; rank 4 in w_a_001, w_b_001/);
      return true;
    });
  });

  it('an A without its B is an error naming the missing key', async () => {
    const file = tmpFile('pairs.safetensors');
    await writeSafetensors(file, new Map([['blocks.0.a_q', t([2, 8])], ['blocks.0.b_q', t([8, 2])], ['blocks.0.a_v', t([2, 8])]]));
    await assert.rejects(loadLora(file), (e: Error) => e.message.includes(file) && e.message.includes('missing blocks.0.b_v'));
    const ref = tmpFile('pairs-ref.safetensors');
    await writeSafetensors(ref, new Map([['w_a_000', t([2, 8])], ['w_b_000', t([8, 2])], ['w_a_001', t([2, 8])]]));
    await assert.rejects(loadLora(ref), (e: Error) => e.message.includes(ref) && e.message.includes('missing w_b_001'));
  });

  it('tensors that are not matrices are an error naming them', async () => {
    const file = tmpFile('ndim.safetensors');
    await writeSafetensors(file, new Map([['blocks.0.a_q', t([2, 8, 1])], ['blocks.0.b_q', t([8, 2])]]));
    await assert.rejects(loadLora(file), (e: Error) => e.message.includes(file) && e.message.includes('must be 2-D matrices, but got blocks.0.a_q [2, 8, 1]'));
  });

  it('a file that is not safetensors: the error names the file', async () => {
    const file = tmpFile('notes.txt');
    writeFileSync(file, 'this is not a safetensors file at all\n');
    await assert.rejects(loadLora(file), (e: Error) => e.message.startsWith(`${file}: `));
    await assert.rejects(loadLora(path.join(tmp, 'does-not-exist.safetensors')), /does-not-exist\.safetensors: /);
  });
});

describe('sam-lora lora (CLI)', () => {
  const cli = path.join(repoRoot(), 'dist', 'bin', 'sam-lora.js');
  const run = (...args: string[]) => spawnSync(process.execPath, [cli, 'lora', ...args], { encoding: 'utf8' });

  it('info prints JSON for a seed file', () => {
    assert.ok(seedFiles.length > 0);
    const file = seedFiles[0]!;
    const r = run('info', file);
    assert.equal(r.status, 0, r.stderr);
    const info = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.equal(info.file, file);
    assert.equal(info.format, 'reference');
    const named = rankFromName(file);
    if (named !== undefined) assert.equal(info.rank, named);
    assert.equal(info.alpha, info.rank);
    assert.equal(info.tensors, 48);
    assert.equal(info.dim, 768);
    assert.deepEqual(info.blocks, [...Array(12).keys()]);
    assert.deepEqual(info.targets, ['q', 'v']);
  });

  it('convert to native then info says native; convert back is byte-identical per tensor', () => {
    const file = seedFiles[seedFiles.length - 1]!;
    const nativeFile = tmpFile('cli-native.safetensors');
    let r = run('convert', file, nativeFile, '--format', 'native');
    assert.equal(r.status, 0, r.stderr);
    r = run('info', nativeFile);
    assert.equal(r.status, 0, r.stderr);
    const info = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.equal(info.format, 'native');
    assert.equal(info.tensors, 48);
    const refFile = tmpFile('cli-ref.safetensors');
    r = run('convert', nativeFile, refFile, '--format=reference');
    assert.equal(r.status, 0, r.stderr);
    assertSameTensorBytes(file, refFile);
  });

  it('a bogus file exits 1 with a message naming it and no stack trace', () => {
    const bogus = tmpFile('bogus.safetensors');
    writeFileSync(bogus, 'not a LoRA');
    for (const r of [run('convert', bogus, tmpFile('out.safetensors'), '--format', 'native'), run('info', bogus)]) {
      assert.equal(r.status, 1);
      assert.ok(r.stderr.includes(bogus), r.stderr);
      assert.doesNotMatch(r.stderr, /\n\s+at /);
    }
  });

  it('bad usage prints usage and exits 2', () => {
    for (const args of [[], ['info'], ['info', 'a', 'b'], ['convert', 'a', 'b'], ['convert', 'a', 'b', '--format', 'onnx'], ['convert', 'a', 'b', '--format', 'native', '--bogus'], ['frobnicate']]) {
      const r = run(...args);
      assert.equal(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /usage: sam-lora lora info FILE/);
    }
    const help = run('--help');
    assert.equal(help.status, 0);
    assert.match(help.stdout, /usage: sam-lora lora/);
  });
});

describe('hostile LoRA files', () => {
  const matrix = (rows: number, cols: number, fill = 0): HostTensor => ({ shape: [rows, cols], data: new Float32Array(rows * cols).fill(fill) });
  const refused = async (tensors: Map<string, HostTensor>, pattern: RegExp): Promise<void> => {
    const file = tmpFile('hostile.safetensors');
    await writeSafetensors(file, tensors);
    await assert.rejects(loadLora(file), (e: Error) => {
      assert.equal(e.name, 'LoraFormatError');
      assert.ok(e.message.startsWith(`${file}: `), e.message);
      assert.match(e.message, pattern);
      return true;
    });
  };

  it('a reference key with a huge index is found incomplete without walking the indices below it', async () => {
    const started = process.hrtime.bigint();
    await refused(new Map([['w_a_100000000', matrix(4, 64)], ['w_b_100000000', matrix(64, 4)]]), /missing w_a_000, w_b_000, .* \(\+199999990 more\)/);
    // A walk of 10^8 indices takes minutes and gigabytes; a bounded one is instant. Generous for a shared CI host.
    assert.ok(Number(process.hrtime.bigint() - started) / 1e9 < 10);
  });

  it('a mask-decoder adapter of the wrong width is refused (lora info too)', async () => {
    const spec: LoraSpec = { rank: 2, alpha: 2, blocks: [], targets: [], decoderTargets: ['q_proj'] };
    const good = initLora({ ...VARIANTS.vit_b, pdim: 32, dheads: 2 }, spec, 1);
    const key = 'mask_decoder.transformer.layers.0.self_attn.q_proj.lora_a';
    good.set(key, matrix(2, 24));
    await refused(good, new RegExp(`inconsistent mask-decoder widths .*pdim 24 in ${key.replace(/\./g, '\\.')}`));
  });

  it('a rank larger than the layer width is refused', async () => {
    await refused(new Map([['blocks.0.a_q', matrix(100, 64)], ['blocks.0.b_q', matrix(64, 100)]]), /rank 100 is larger than the width 64 of the layer blocks\.0\.a_q adapts/);
  });

  it('non-finite weights are refused naming the tensor, in both formats', async () => {
    const nan = matrix(64, 4);
    nan.data[7] = Number.NaN;
    await refused(new Map([['blocks.0.a_q', matrix(4, 64)], ['blocks.0.b_q', nan]]), /tensor "blocks\.0\.b_q" holds a non-finite value \(NaN at element 7\)/);
    const inf = matrix(4, 64);
    inf.data[0] = Number.POSITIVE_INFINITY;
    await refused(new Map([['w_a_000', inf], ['w_b_000', matrix(64, 4)], ['w_a_001', matrix(4, 64)], ['w_b_001', matrix(64, 4)]]), /tensor "w_a_000" holds a non-finite value \(Infinity at element 0\)/);
  });
});
