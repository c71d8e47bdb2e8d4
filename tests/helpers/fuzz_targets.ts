// The parsers the fuzz tests exercise, each with seed inputs, structure-aware mutations (so that
// mutated inputs get past the first syntax check and reach the size, shape and index logic), and
// the parser's own clear error types. Run through fuzzInChild (fuzz.ts).

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { ConfigError, DEFAULT_CONFIG_YAML, configToYaml, parseConfigText, parseSetArgs } from '../../shared/config/index.js';
import { DataError } from '../../shared/data/errors.js';
import { cocoObjects, listCoco } from '../../shared/data/formats/coco.js';
import { VARIANTS } from '../../shared/sam/config.js';
import { initLora } from '../../shared/sam/lora.js';
import { LoraFormatError, loadLora, saveLora } from '../../shared/sam/lora_io.js';
import { PthFormatError, readPth } from '../../shared/tensor/pth_reader.js';
import { PickleFormatError, UnsafePickleError } from '../../shared/tensor/pth_unpickler.js';
import { ZipFormatError } from '../../shared/tensor/pth_zip.js';
import { SafetensorsFormatError, encodeSafetensors, parseSafetensors } from '../../shared/tensor/safetensors.js';
import { buildPth, float32Bytes, stateDictPickle } from '../tensor/pth_test_helpers.js';
import type { FuzzTarget } from './fuzz.js';
import type { Rng } from './rng.js';

const scratch = mkdtempSync(path.join(tmpdir(), 'samlora-fuzz-'));
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));
let fileCount = 0;
function scratchFile(name: string, bytes: Uint8Array): string {
  const file = path.join(scratch, `${fileCount++ % 8}-${name}`);
  writeFileSync(file, bytes);
  return file;
}

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const untext = (b: Uint8Array): string => new TextDecoder().decode(b);
const pick = <T>(rng: Rng, items: readonly T[]): T => items[rng.int(0, items.length - 1)]!;

/** Numbers at the edges of what parsers check: zero, negatives, fractions, 2^31/2^32/2^53 and beyond. */
const EDGE_NUMBERS = [0, 1, -1, 2, 3, 0.5, 7, 64, 255, 1024, 65536, 2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 32 + 1, 2 ** 53, 2 ** 53 + 2, 1e308, -1e308, 100000000];

/** JSON-level mutation: replace one random node of a JSON document with an edge value. */
function mutateJson(input: Uint8Array, rng: Rng, values: readonly unknown[]): Uint8Array {
  let doc: unknown;
  try {
    doc = JSON.parse(untext(input));
  } catch {
    return input;
  }
  const nodes: { parent: Record<string, unknown> | unknown[]; key: string | number }[] = [];
  const walk = (v: unknown): void => {
    if (Array.isArray(v)) {
      v.forEach((x, i) => {
        nodes.push({ parent: v, key: i });
        walk(x);
      });
    } else if (typeof v === 'object' && v !== null) {
      for (const [k, x] of Object.entries(v)) {
        nodes.push({ parent: v as Record<string, unknown>, key: k });
        walk(x);
      }
    }
  };
  walk(doc);
  if (nodes.length === 0) return input;
  const { parent, key } = pick(rng, nodes);
  const value = rng.next() < 0.7 ? pick(rng, values) : pick(rng, EDGE_NUMBERS);
  if (Array.isArray(parent)) parent[key as number] = value;
  else if (rng.next() < 0.2) {
    // Rename the key instead (e.g. to one that reaches a prototype).
    const v = parent[key as string];
    delete parent[key as string];
    Object.defineProperty(parent, String(pick(rng, ['__proto__', 'constructor', 'w_a_100000000', 'blocks.99999999.a_q', '', key])), { value: v, enumerable: true, configurable: true, writable: true });
  } else parent[key as string] = value;
  return text(JSON.stringify(doc));
}

// ---------------------------------------------------------------------------------------------
// Configuration: YAML files and --set

const YAML_SNIPPETS = [
  '__proto__:\n  toString: 1',
  'train:\n  constructor: {prototype: {polluted: 1}}',
  'lora: {__proto__: {rank: 1}}',
  'a: &a [*a, *a]',
  'x: &x [1, 2]\ny: [*x, *x, *x, *x, *x]',
  'train:\n  epochs: 1e400',
  'lora:\n  rank: 100000000',
  'lora:\n  blocks: [0, 100000000, -1]',
  `model:\n  variant: {dim: 64, depth: 100000000, heads: 4, glob: [1], img: 128, window: 4, pdim: 64, dmlp: 256, iouh: 64}`,
  `train: ${'['.repeat(500)}${']'.repeat(500)}`,
  `data:\n  train: ${'x'.repeat(5000)}`,
  '? [a, b]\n: 1',
  'train: !!binary AAAA',
  'SAM:\n  RANK: -1\n  CHECKPOINT: [1]',
  '"\\u0000": 1',
];

const SET_LINES = ['train.epochs=3', 'lora.rank=1e9', '__proto__.x=1', 'train.augment={constructor: 1}', 'SAM.RANK=[1,2]', 'lora.blocks=[0, 99999999]', 'model.variant={dim: 1}', 'x=', '=1', 'data.train=../../etc'];

const config: FuzzTarget = {
  async seeds() {
    const full = configToYaml(parseConfigText(DEFAULT_CONFIG_YAML, '/fuzz/default.yaml', { checkPaths: false }));
    return [text(DEFAULT_CONFIG_YAML), text(full), text('DATASET:\n  TRAIN_PATH: null\nSAM:\n  CHECKPOINT: null\n  RANK: 8\nTRAIN:\n  BATCH_SIZE: 2\n  NUM_EPOCHS: 1\n')];
  },
  mutate(input, rng) {
    const lines = untext(input).split('\n');
    if (rng.next() < 0.5) lines.splice(rng.int(0, lines.length), 0, ...pick(rng, YAML_SNIPPETS).split('\n'));
    else lines.push(`#set ${pick(rng, SET_LINES)}`);
    return text(lines.join('\n'));
  },
  async parse(input) {
    const source = untext(input);
    // Lines '#set k=v' are --set arguments (a comment to YAML).
    const sets = source.split('\n').flatMap((l) => (l.startsWith('#set ') ? [l.slice(5)] : []));
    const overrides = parseSetArgs(sets);
    return parseConfigText(source, '/fuzz/config.yaml', { checkPaths: false, overrides, cwd: '/fuzz' });
  },
  isClearError: (e) => e instanceof ConfigError,
};

// ---------------------------------------------------------------------------------------------
// safetensors

function safetensorsHeader(input: Uint8Array): { header: Record<string, unknown>; data: Uint8Array } | undefined {
  if (input.length < 8) return undefined;
  const n = Number(new DataView(input.buffer, input.byteOffset, 8).getBigUint64(0, true));
  if (8 + n > input.length) return undefined;
  try {
    return { header: JSON.parse(untext(input.subarray(8, 8 + n))) as Record<string, unknown>, data: input.subarray(8 + n) };
  } catch {
    return undefined;
  }
}

function encodeWithHeader(header: unknown, data: Uint8Array): Uint8Array {
  const json = text(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

const HEADER_VALUES: unknown[] = [[0, 0], [0, 16], [0, 2 ** 32], [2 ** 53, 2 ** 53 + 4], [4, 0], [], [2 ** 32], [65536, 65536], [-1], 'F32', 'F16', 'BF16', 'I64', 'U8', 'BOOL', 'F8_E4M3', null, {}, '__proto__'];

const safetensors: FuzzTarget = {
  async seeds() {
    const t = (shape: number[]): { shape: number[]; data: Float32Array } => ({ shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => i / 7) });
    return [encodeSafetensors({ a: t([2, 3]), b: t([4]), c: t([]) }, { format: 'sam-lora', note: 'x' }), encodeSafetensors({ w: t([8, 8]) })];
  },
  mutate(input, rng) {
    const parsed = safetensorsHeader(input);
    if (!parsed) return input;
    return encodeWithHeader(JSON.parse(untext(mutateJson(text(JSON.stringify(parsed.header)), rng, HEADER_VALUES))), parsed.data);
  },
  async parse(input) {
    return parseSafetensors(input, 'fuzz.safetensors');
  },
  isClearError: (e) => e instanceof SafetensorsFormatError,
};

// ---------------------------------------------------------------------------------------------
// .pth (zip container + pickle)

const PTH_TYPES = ['FloatStorage', 'HalfStorage', 'BFloat16Storage', 'DoubleStorage', 'LongStorage', 'IntStorage', 'BoolStorage', 'ByteStorage', 'ComplexFloatStorage'];
const WIDTH: Record<string, number> = { FloatStorage: 4, HalfStorage: 2, BFloat16Storage: 2, DoubleStorage: 8, LongStorage: 8, IntStorage: 4, BoolStorage: 1, ByteStorage: 1 };

const pth: FuzzTarget = {
  async seeds() {
    const pkl = stateDictPickle({
      w: { storageType: 'FloatStorage', storageKey: '0', storageNumel: 6, offset: 0, size: [2, 3], stride: [3, 1] },
      t: { storageType: 'FloatStorage', storageKey: '0', storageNumel: 6, offset: 1, size: [3, 2], stride: [1, 3] },
      b: { storageType: 'IntStorage', storageKey: '1', storageNumel: 2, offset: 0, size: [3, 2], stride: [0, 1] },
    });
    const storages = { '0': float32Bytes([1, 2, 3, 4, 5, 6]), '1': new Uint8Array(8) };
    return [buildPth(pkl, storages), buildPth(pkl, storages, { deflate: true }), buildPth(pkl, storages, { zip64: true })];
  },
  mutate(_input, rng) {
    // A fresh archive whose one tensor has edge-value sizes, strides and offsets over a real storage.
    const type = pick(rng, PTH_TYPES);
    const dims = rng.int(0, 3);
    const numel = pick(rng, [0, 1, 2, 6, 64, 2 ** 31, 2 ** 53]);
    const stored = Math.min(numel, 4096) * (WIDTH[type] ?? 4) + pick(rng, [0, 0, 0, 1, -1]);
    const pkl = stateDictPickle({
      x: {
        storageType: type,
        storageKey: pick(rng, ['0', '1']),
        storageNumel: numel,
        offset: pick(rng, [0, 0, 1, 5, 2 ** 32]),
        size: Array.from({ length: dims }, () => pick(rng, EDGE_NUMBERS.filter((n) => Number.isInteger(n) && n >= 0 && n <= 2 ** 53))),
        stride: Array.from({ length: dims }, () => pick(rng, [0, 1, 2, 3, 2 ** 31, 2 ** 53])),
      },
    });
    return buildPth(pkl, { '0': new Uint8Array(Math.max(0, stored)) }, { deflate: rng.next() < 0.3 });
  },
  async parse(input) {
    return readPth(scratchFile('fuzz.pth', input));
  },
  isClearError: (e) => e instanceof PthFormatError || e instanceof ZipFormatError || e instanceof PickleFormatError || e instanceof UnsafePickleError,
};

// ---------------------------------------------------------------------------------------------
// LoRA files, both key layouts

const LORA_KEYS = ['w_a_000', 'w_b_000', 'w_a_001', 'w_b_001', 'w_a_100000000', 'w_b_099999999', 'blocks.0.a_q', 'blocks.0.b_q', 'blocks.99999999.a_v', 'blocks.1.a_lin1', 'mask_decoder.transformer.layers.0.self_attn.q_proj.lora_a'];

const lora: FuzzTarget = {
  async seeds() {
    const cfg = { ...VARIANTS.vit_b, dim: 16, depth: 2, pdim: 16, dheads: 2 };
    const out: Uint8Array[] = [];
    const specs = [
      { rank: 2, alpha: 2, blocks: [0, 1], targets: ['q' as const, 'v' as const] },
      { rank: 2, alpha: 4, blocks: [1], targets: ['k' as const, 'lin1' as const], decoderTargets: ['v_proj' as const] },
    ];
    for (const [i, spec] of specs.entries()) {
      for (const format of i === 0 ? (['native', 'reference'] as const) : (['native'] as const)) {
        const file = path.join(scratch, `seed-${i}-${format}.safetensors`);
        await saveLora(file, initLora(cfg, spec, 3), spec, format);
        out.push(new Uint8Array(await import('node:fs/promises').then((fs) => fs.readFile(file))));
      }
    }
    return out;
  },
  mutate(input, rng) {
    const parsed = safetensorsHeader(input);
    if (!parsed) return input;
    const values: unknown[] = [...HEADER_VALUES, ...LORA_KEYS, '{"format":"sam-lora","version":"1"}', '[0, 99999999]', '1e9'];
    let header = parsed.header;
    if (rng.next() < 0.4) {
      // Rename a tensor to another LoRA key (either layout, huge indices included).
      const names = Object.keys(header).filter((k) => k !== '__metadata__');
      if (names.length) {
        const from = pick(rng, names);
        const renamed: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(header)) renamed[k === from ? pick(rng, LORA_KEYS) : k] = v;
        header = renamed;
      }
    } else header = JSON.parse(untext(mutateJson(text(JSON.stringify(header)), rng, values))) as Record<string, unknown>;
    return encodeWithHeader(header, parsed.data);
  },
  async parse(input) {
    return loadLora(scratchFile('fuzz.safetensors', input));
  },
  isClearError: (e) => e instanceof LoraFormatError,
};

// ---------------------------------------------------------------------------------------------
// COCO annotation files

const COCO_VALUES: unknown[] = [
  '../outside.png',
  '/etc/passwd',
  'C:\\x.png',
  [[1, 1, 6, 6]],
  [[]],
  [[1e9, 0, 0, 1e9, 5, 5]],
  { size: [8, 8], counts: [2 ** 31, 2] },
  { size: [8, 8], counts: 'ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ' },
  { size: [2 ** 31, 2 ** 31], counts: [0] },
  { size: [8, 8], counts: [-5, 70] },
  null,
  'x',
  [],
  {},
];

const coco: FuzzTarget = {
  async seeds() {
    return [
      text(
        JSON.stringify({
          images: [
            { id: 1, file_name: 'a.png', width: 8, height: 8 },
            { id: 2, file_name: 'b.png', width: 6, height: 5 },
          ],
          annotations: [
            { id: 10, image_id: 1, category_id: 1, iscrowd: 0, segmentation: [[1, 1, 6, 1, 6, 6, 1, 6]] },
            { id: 11, image_id: 1, category_id: 2, iscrowd: 0, segmentation: { size: [8, 8], counts: [56, 8] } },
            { id: 12, image_id: 2, category_id: 3, iscrowd: 0, segmentation: { size: [5, 6], counts: '02k0O' } },
          ],
          categories: [{ id: 1, name: 'ring' }],
        }),
      ),
    ];
  },
  mutate: (input, rng) => mutateJson(input, rng, COCO_VALUES),
  async parse(input) {
    const file = scratchFile('coco.json', input);
    const listing = await listCoco(file, [path.join(scratch, 'images')], { exists: () => true });
    for (const im of listing.images) cocoObjects(im.info, im.fileName);
    return listing;
  },
  isClearError: (e) => e instanceof DataError,
};

export const FUZZ_TARGETS: Readonly<Record<string, FuzzTarget>> = { config, safetensors, pth, lora, coco };
