// LoRA weight files: our native safetensors layout and the reference project's.
//
// native:    `blocks.{i}.a_{target}` [r, in] and `blocks.{i}.b_{target}` [out, r] (see lora.ts), the
//            optional mask-decoder adapters `mask_decoder.transformer.{module}.{proj}.lora_a|lora_b`,
//            and `__metadata__` {format: 'sam-lora', rank, alpha, blocks, targets, version: '1'}
//            (+ decoderTargets when there are decoder adapters). Files without that metadata (the
//            fixtures' lora.safetensors) are read too: rank, blocks and targets come from the keys
//            and shapes, alpha = rank.
// reference: `w_a_{NNN}` [r, dim] (LoRA A) and `w_b_{NNN}` [dim, r] (LoRA B), NNN = 000, 001, ... in the
//            order block 0 q, block 0 v, block 1 q, block 1 v, ...; scale 1 (alpha = rank). It can
//            only hold q and v adapters on blocks 0..n-1.

import { readSafetensors, writeSafetensors } from '../tensor/safetensors.js';
import { firstNonFiniteIndex } from '../tensor/finite.js';
import type { HostTensor } from '../tensor/host_tensor.js';
import { SAM_CONSTANTS, type SamConfig, VARIANTS } from './config.js';
import {
  DECODER_TARGETS,
  type DecoderTarget,
  ENCODER_TARGETS,
  type EncoderTarget,
  loraKeyA,
  loraKeyB,
  loraLayout,
  type LoraSpec,
} from './lora.js';

export type LoraFormat = 'native' | 'reference';
export const LORA_FORMATS: readonly LoraFormat[] = ['native', 'reference'];

export const NATIVE_FORMAT_TAG = 'sam-lora';
export const NATIVE_FORMAT_VERSION = '1';

export interface LoadedLora {
  /** Always under native keys, whatever the file's format. */
  tensors: Map<string, HostTensor>;
  spec: LoraSpec;
  format: LoraFormat;
  /** Encoder width the adapters were made for (from the tensor shapes); null without encoder adapters. */
  dim: number | null;
}

export interface LoraInfo {
  file: string;
  format: LoraFormat;
  rank: number;
  alpha: number;
  blocks: number[];
  targets: EncoderTarget[];
  /** Only when the file has mask-decoder adapters. */
  decoderTargets?: DecoderTarget[];
  /** Number of tensors in the file. */
  tensors: number;
  dim: number | null;
}

/** A LoRA file (or a LoRA to be saved) that is not what it should be; the message names the file. */
export class LoraFormatError extends Error {
  constructor(
    readonly file: string,
    problem: string,
  ) {
    super(`${file}: ${problem}`);
    this.name = 'LoraFormatError';
  }
}

const NATIVE_KEY = /^blocks\.(0|[1-9][0-9]*)\.([ab])_(q|k|v|proj|lin1|lin2)$/;
const REFERENCE_KEY = /^w_([ab])_([0-9]{3,})$/;
const MAX_LISTED = 12;

type Kind = 'a' | 'b';

const referenceKey = (kind: Kind, index: number): string => `w_${kind}_${String(index).padStart(3, '0')}`;
const nativeKey = (kind: Kind, block: number, target: EncoderTarget): string =>
  kind === 'a' ? loraKeyA(block, target) : loraKeyB(block, target);

/** "a, b, c (+N more)". */
function listKeys(keys: readonly string[]): string {
  const shown = keys.slice(0, MAX_LISTED).join(', ');
  return keys.length > MAX_LISTED ? `${shown} (+${keys.length - MAX_LISTED} more)` : shown;
}

const fmtShape = (s: readonly number[]): string => `[${s.join(', ')}]`;

/**
 * Every mask-decoder adapter key, with its A/B kind, projection, and its non-rank width as a multiple
 * of the prompt/decoder width pdim (names do not depend on widths; widths scale with pdim).
 */
const DECODER_KEYS: ReadonlyMap<string, { kind: Kind; target: DecoderTarget; widthPerPdim: number }> = new Map(
  DECODER_TARGETS.flatMap((target) =>
    loraLayout(VARIANTS.vit_b, { rank: 1, alpha: 1, blocks: [], targets: [], decoderTargets: [target] }).map(
      ({ key, shape }): [string, { kind: Kind; target: DecoderTarget; widthPerPdim: number }] => {
        const kind: Kind = key.endsWith('_a') ? 'a' : 'b';
        return [key, { kind, target, widthPerPdim: (kind === 'a' ? shape[1] : shape[0]) / VARIANTS.vit_b.pdim }];
      },
    ),
  ),
);

type NativeKey =
  | { kind: Kind; encoder: true; block: number; target: EncoderTarget }
  | { kind: Kind; encoder: false; target: DecoderTarget };

function parseNativeKey(key: string): NativeKey | undefined {
  const m = NATIVE_KEY.exec(key);
  if (m) return { encoder: true, block: Number(m[1]), kind: m[2] as Kind, target: m[3] as EncoderTarget };
  const d = DECODER_KEYS.get(key);
  return d ? { encoder: false, kind: d.kind, target: d.target } : undefined;
}

function parseReferenceKey(key: string): { kind: Kind; index: number } | undefined {
  const m = REFERENCE_KEY.exec(key);
  if (!m) return undefined;
  const index = Number(m[2]);
  // Only the canonical spelling (w_a_001, not w_a_0001), so two keys cannot name one adapter.
  if (!Number.isSafeInteger(index) || referenceKey(m[1] as Kind, index) !== key) return undefined;
  return { kind: m[1] as Kind, index };
}

/** Width of the encoder implied by one LoRA tensor's non-rank dimension (lin1 out / lin2 in are 4 dim). */
function impliedDim(kind: Kind, target: EncoderTarget, shape: readonly number[]): number {
  const width = kind === 'a' ? shape[1]! : shape[0]!;
  const hidden = (kind === 'a' && target === 'lin2') || (kind === 'b' && target === 'lin1');
  return hidden ? width / SAM_CONSTANTS.mlpRatio : width;
}

function groupBy<K>(entries: Iterable<[K, string]>): Map<K, string[]> {
  const out = new Map<K, string[]>();
  for (const [k, name] of entries) {
    const list = out.get(k);
    if (list) list.push(name);
    else out.set(k, [name]);
  }
  return out;
}

interface InferredShape {
  rank: number;
  dim: number | null;
  blocks: number[];
  targets: EncoderTarget[];
  decoderTargets: DecoderTarget[];
}

/**
 * Checks tensors under native keys (every key must already parse) and infers rank, width, blocks
 * and targets. Problems are reported under the file's own key names (nameOf).
 */
function inferNative(tensors: Map<string, HostTensor>, file: string, nameOf: (key: string) => string = (k) => k): InferredShape {
  const notMatrix: string[] = [];
  const blocks = new Set<number>();
  const targets = new Set<EncoderTarget>();
  const decoderTargets = new Set<DecoderTarget>();
  const parsed: { key: string; p: NativeKey; shape: readonly number[] }[] = [];
  for (const [key, t] of tensors) {
    const p = parseNativeKey(key);
    if (!p) throw new LoraFormatError(file, `not a LoRA key: ${nameOf(key)}`);
    if (t.shape.length !== 2) notMatrix.push(`${nameOf(key)} ${fmtShape(t.shape)}`);
    if (p.encoder) {
      blocks.add(p.block);
      targets.add(p.target);
    } else decoderTargets.add(p.target);
    parsed.push({ key, p, shape: t.shape });
  }
  if (parsed.length === 0) throw new LoraFormatError(file, 'holds no LoRA tensors');
  if (notMatrix.length) throw new LoraFormatError(file, `LoRA tensors must be 2-D matrices, but got ${listKeys(notMatrix)}`);

  // blocks x targets must be complete, each with its A and its B; likewise every decoder module for a decoder target.
  const sortedBlocks = [...blocks].sort((a, b) => a - b);
  const sortedTargets = ENCODER_TARGETS.filter((t) => targets.has(t));
  const sortedDecoder = DECODER_TARGETS.filter((t) => decoderTargets.has(t));
  const missing: string[] = [];
  for (const b of sortedBlocks) {
    for (const t of sortedTargets) {
      for (const kind of ['a', 'b'] as const) if (!tensors.has(nativeKey(kind, b, t))) missing.push(nameOf(nativeKey(kind, b, t)));
    }
  }
  for (const [key, { target }] of DECODER_KEYS) if (decoderTargets.has(target) && !tensors.has(key)) missing.push(nameOf(key));
  if (missing.length) {
    const decoder = sortedDecoder.length ? `, decoder targets ${sortedDecoder.join(',')} on every decoder attention module` : '';
    throw new LoraFormatError(
      file,
      `incomplete LoRA: every adapter needs an A and a B (blocks ${sortedBlocks.join(',')}, targets ${sortedTargets.join(',')}${decoder}); missing ${listKeys(missing)}`,
    );
  }

  const problems: string[] = [];
  const ranks = groupBy(parsed.map(({ key, p, shape }): [number, string] => [p.kind === 'a' ? shape[0]! : shape[1]!, nameOf(key)]));
  if (ranks.size > 1) {
    const parts = [...ranks].map(([r, keys]) => `rank ${r} in ${listKeys(keys)}`);
    problems.push(`inconsistent ranks (A is [r, in], B is [out, r]): ${parts.join('; ')}`);
  }
  // Encoder widths only: decoder adapters follow the prompt/decoder width, which is a separate setting.
  const dims = groupBy(
    parsed.flatMap(({ key, p, shape }): [number, string][] => (p.encoder ? [[impliedDim(p.kind, p.target, shape), nameOf(key)]] : [])),
  );
  if (dims.size > 1) {
    const parts = [...dims].map(([d, keys]) => `width ${d} in ${listKeys(keys)}`);
    problems.push(`inconsistent encoder widths: ${parts.join('; ')}`);
  }
  const decoderWidths = groupBy(
    parsed.flatMap(({ key, p, shape }): [number, string][] => {
      if (p.encoder) return [];
      const { widthPerPdim } = DECODER_KEYS.get(key)!;
      return [[(p.kind === 'a' ? shape[1]! : shape[0]!) / widthPerPdim, nameOf(key)]];
    }),
  );
  if (decoderWidths.size > 1) {
    const parts = [...decoderWidths].map(([d, keys]) => `pdim ${d} in ${listKeys(keys)}`);
    problems.push(`inconsistent mask-decoder widths (each adapter's width follows the decoder width pdim): ${parts.join('; ')}`);
  }
  const rank = [...ranks.keys()][0]!;
  const dim = dims.size ? [...dims.keys()][0]! : null;
  if (ranks.size === 1 && rank < 1) problems.push(`rank must be at least 1 (got ${rank})`);
  if (dims.size === 1 && !(Number.isInteger(dim) && dim! >= 1)) problems.push(`tensor widths imply an invalid encoder width ${dim}`);
  const pdim = decoderWidths.size === 1 ? [...decoderWidths.keys()][0]! : null;
  if (pdim !== null && !(Number.isInteger(pdim) && pdim >= 2 && pdim % 2 === 0)) problems.push(`tensor widths imply an invalid mask-decoder width ${pdim}`);
  if (ranks.size === 1 && problems.length === 0) {
    // A rank above the width of the layer it adapts adds parameters and nothing else: refuse it.
    const widthOf = (t: { p: NativeKey; shape: readonly number[] }): number => (t.p.kind === 'a' ? t.shape[1]! : t.shape[0]!);
    const narrowest = parsed.reduce((best, cur) => (widthOf(cur) < widthOf(best) ? cur : best));
    const width = widthOf(narrowest);
    if (rank > width) problems.push(`rank ${rank} is larger than the width ${width} of the layer ${nameOf(narrowest.key)} adapts (a LoRA's rank is at most its layer's width)`);
  }
  if (problems.length) throw new LoraFormatError(file, problems.join('; '));
  return { rank, dim, blocks: sortedBlocks, targets: sortedTargets, decoderTargets: sortedDecoder };
}

/** Every problem with a spec's own fields (not its tensors); empty when it is valid. */
function specProblems(spec: LoraSpec): string[] {
  const problems: string[] = [];
  if (!Number.isInteger(spec.rank) || spec.rank < 1) problems.push(`rank must be a positive integer (got ${String(spec.rank)})`);
  if (typeof spec.alpha !== 'number' || !Number.isFinite(spec.alpha) || spec.alpha <= 0) problems.push(`alpha must be a positive number (got ${String(spec.alpha)})`);
  const decoder = spec.decoderTargets ?? [];
  if (!Array.isArray(spec.blocks)) problems.push('blocks must be a list');
  else {
    if (!spec.blocks.every((b) => Number.isInteger(b) && b >= 0)) problems.push(`blocks must be non-negative integers (got ${JSON.stringify(spec.blocks)})`);
    if (new Set(spec.blocks).size !== spec.blocks.length) problems.push(`blocks repeat an index (got ${JSON.stringify(spec.blocks)})`);
  }
  if (!Array.isArray(spec.targets)) problems.push('targets must be a list');
  else {
    const unknown = spec.targets.filter((t) => !(ENCODER_TARGETS as readonly string[]).includes(t));
    if (unknown.length) problems.push(`unknown targets ${JSON.stringify(unknown)} (known: ${ENCODER_TARGETS.join(', ')})`);
    if (new Set(spec.targets).size !== spec.targets.length) problems.push(`targets repeat a name (got ${JSON.stringify(spec.targets)})`);
  }
  if (!Array.isArray(decoder)) problems.push('decoderTargets must be a list');
  else {
    const unknown = decoder.filter((t) => !(DECODER_TARGETS as readonly string[]).includes(t));
    if (unknown.length) problems.push(`unknown decoderTargets ${JSON.stringify(unknown)} (known: ${DECODER_TARGETS.join(', ')})`);
    if (new Set(decoder).size !== decoder.length) problems.push(`decoderTargets repeat a name (got ${JSON.stringify(decoder)})`);
  }
  if (problems.length === 0) {
    const encoder = spec.blocks.length > 0 && spec.targets.length > 0;
    if (!encoder && decoder.length === 0) problems.push('the spec has no adapters (blocks, targets and decoderTargets are empty)');
    else if (spec.blocks.length > 0 !== spec.targets.length > 0) problems.push('blocks and targets must both be empty or both be non-empty');
  }
  return problems;
}

/** The spec with blocks ascending, targets in library order, and decoderTargets only when non-empty. */
function canonicalSpec(spec: LoraSpec): LoraSpec {
  const out: LoraSpec = {
    rank: spec.rank,
    alpha: spec.alpha,
    blocks: [...spec.blocks].sort((a, b) => a - b),
    targets: ENCODER_TARGETS.filter((t) => spec.targets.includes(t)),
  };
  const decoder = DECODER_TARGETS.filter((t) => spec.decoderTargets?.includes(t));
  if (decoder.length) out.decoderTargets = decoder;
  return out;
}

/** Every native key a spec has (independent of the model's widths). */
function specKeys(spec: LoraSpec): string[] {
  const out: string[] = [];
  const { blocks, targets, decoderTargets } = canonicalSpec(spec);
  for (const b of blocks) for (const t of targets) out.push(loraKeyA(b, t), loraKeyB(b, t));
  for (const [key, { target }] of DECODER_KEYS) if (decoderTargets?.includes(target)) out.push(key);
  return out;
}

/** Missing / unexpected keys of a tensor map against a spec, as message parts. */
function keyMismatch(spec: LoraSpec, tensors: Map<string, HostTensor>): string[] {
  const expected = specKeys(spec);
  const expectedSet = new Set(expected);
  const missing = expected.filter((k) => !tensors.has(k));
  const unexpected = [...tensors.keys()].filter((k) => !expectedSet.has(k));
  const parts: string[] = [];
  if (missing.length) parts.push(`missing ${listKeys(missing)}`);
  if (unexpected.length) parts.push(`unexpected ${listKeys(unexpected)}`);
  return parts;
}

function describe(spec: LoraSpec): string {
  const decoder = spec.decoderTargets?.length ? `, decoder targets ${spec.decoderTargets.join(',')}` : '';
  return `rank ${spec.rank}, blocks ${spec.blocks.join(',') || 'none'}, targets ${spec.targets.join(',') || 'none'}${decoder}`;
}

function specFromMetadata(meta: Record<string, string>, file: string): LoraSpec {
  if (meta.version !== NATIVE_FORMAT_VERSION) {
    throw new LoraFormatError(file, `unsupported ${NATIVE_FORMAT_TAG} metadata version ${JSON.stringify(meta.version ?? null)} (this build reads version ${NATIVE_FORMAT_VERSION})`);
  }
  const problems: string[] = [];
  const json = (field: string): unknown => {
    const text = meta[field];
    if (text === undefined) {
      problems.push(`metadata has no "${field}"`);
      return undefined;
    }
    try {
      return JSON.parse(text);
    } catch {
      problems.push(`metadata "${field}" is not valid JSON (${JSON.stringify(text)})`);
      return undefined;
    }
  };
  const rank = json('rank');
  const alpha = json('alpha');
  const blocks = json('blocks');
  const targets = json('targets');
  const decoderTargets = meta.decoderTargets === undefined ? undefined : json('decoderTargets');
  if (problems.length) throw new LoraFormatError(file, `bad ${NATIVE_FORMAT_TAG} metadata: ${problems.join('; ')}`);
  const spec = (decoderTargets === undefined ? { rank, alpha, blocks, targets } : { rank, alpha, blocks, targets, decoderTargets }) as LoraSpec;
  const bad = specProblems(spec);
  if (bad.length) throw new LoraFormatError(file, `bad ${NATIVE_FORMAT_TAG} metadata: ${bad.join('; ')}`);
  return canonicalSpec(spec);
}

function loadNative(tensors: Map<string, HostTensor>, metadata: Record<string, string>, file: string): LoadedLora {
  const hasMeta = metadata.format === NATIVE_FORMAT_TAG;
  const declared = hasMeta ? specFromMetadata(metadata, file) : undefined;
  if (declared) {
    const parts = keyMismatch(declared, tensors);
    if (parts.length) throw new LoraFormatError(file, `tensors do not match the LoRA its metadata declares (${describe(declared)}): ${parts.join('; ')}`);
  }
  const shape = inferNative(tensors, file);
  if (declared && declared.rank !== shape.rank) {
    throw new LoraFormatError(file, `metadata says rank ${declared.rank} but the tensors have rank ${shape.rank}`);
  }
  const spec =
    declared ?? canonicalSpec({ rank: shape.rank, alpha: shape.rank, blocks: shape.blocks, targets: shape.targets, decoderTargets: shape.decoderTargets });
  return { tensors, spec, format: 'native', dim: shape.dim };
}

function loadReference(fileTensors: Map<string, HostTensor>, file: string): LoadedLora {
  const byIndex = new Map<number, { a?: HostTensor; b?: HostTensor }>();
  for (const [key, t] of fileTensors) {
    const { kind, index } = parseReferenceKey(key)!;
    const slot = byIndex.get(index) ?? {};
    slot[kind] = t;
    byIndex.set(index, slot);
  }
  let count = 0;
  for (const i of byIndex.keys()) count = Math.max(count, i + 1);
  const pairs = count + (count % 2); // q and v for every block
  // The keys present bound the work: a file naming w_a_100000000 is found incomplete without
  // walking every index below it.
  const missingCount = 2 * pairs - fileTensors.size;
  if (missingCount > 0) {
    const shown: string[] = [];
    for (let i = 0; i < pairs && shown.length < MAX_LISTED; i++) {
      for (const kind of ['a', 'b'] as const) if (byIndex.get(i)?.[kind] === undefined && shown.length < MAX_LISTED) shown.push(referenceKey(kind, i));
    }
    const more = missingCount > shown.length ? ` (+${missingCount - shown.length} more)` : '';
    throw new LoraFormatError(
      file,
      `incomplete reference-format LoRA: expected w_a_NNN and w_b_NNN for NNN = 000..${String(pairs - 1).padStart(3, '0')} (q then v of each block); missing ${shown.join(', ')}${more}`,
    );
  }
  const tensors = new Map<string, HostTensor>();
  const names = new Map<string, string>();
  for (let i = 0; i < pairs; i++) {
    const block = Math.floor(i / 2);
    const target: EncoderTarget = i % 2 === 0 ? 'q' : 'v';
    for (const kind of ['a', 'b'] as const) {
      const key = nativeKey(kind, block, target);
      tensors.set(key, byIndex.get(i)![kind]!);
      names.set(key, referenceKey(kind, i));
    }
  }
  const shape = inferNative(tensors, file, (k) => names.get(k) ?? k);
  const spec: LoraSpec = { rank: shape.rank, alpha: shape.rank, blocks: shape.blocks, targets: ['q', 'v'] };
  return { tensors, spec, format: 'reference', dim: shape.dim };
}

/**
 * Reads a LoRA file in either format (detected from its metadata and keys). Tensors come back
 * under native keys. Throws a LoraFormatError naming the file and the offending keys when it is
 * neither format or is inconsistent.
 */
export async function loadLora(file: string): Promise<LoadedLora> {
  let contents: Awaited<ReturnType<typeof readSafetensors>>;
  try {
    contents = await readSafetensors(file);
  } catch (e) {
    const msg = (e as Error).message;
    throw new LoraFormatError(file, `not a readable LoRA file: ${msg.startsWith(`${file}: `) ? msg.slice(file.length + 2) : msg}`);
  }
  const { tensors, metadata } = contents;
  for (const [key, t] of tensors) {
    const i = firstNonFiniteIndex(t.data);
    if (i >= 0) throw new LoraFormatError(file, `tensor "${key}" holds a non-finite value (${t.data[i]} at element ${i}); refusing weights that are not numbers`);
  }
  const keys = [...tensors.keys()];
  if (keys.length === 0) throw new LoraFormatError(file, 'holds no tensors, so it is not a LoRA file');
  const native = keys.filter((k) => parseNativeKey(k) !== undefined);
  const reference = keys.filter((k) => parseReferenceKey(k) !== undefined);
  if (native.length === keys.length) return loadNative(tensors, metadata, file);
  if (reference.length === keys.length && metadata.format !== NATIVE_FORMAT_TAG) return loadReference(tensors, file);

  const other = keys.filter((k) => parseNativeKey(k) === undefined && parseReferenceKey(k) === undefined);
  const formats =
    'neither the native format (blocks.{i}.a_{target} / blocks.{i}.b_{target}, mask_decoder.transformer.*.lora_a / lora_b) nor the reference format (w_a_NNN / w_b_NNN)';
  if (other.length) throw new LoraFormatError(file, `is ${formats}: unrecognised keys ${listKeys(other)}`);
  if (native.length && reference.length) {
    throw new LoraFormatError(file, `mixes native keys (${listKeys(native)}) with reference keys (${listKeys(reference)})`);
  }
  throw new LoraFormatError(file, `has ${NATIVE_FORMAT_TAG} metadata but reference-format keys ${listKeys(reference)}`);
}

/** Why a (valid) spec cannot be written in the reference format; empty when it can. */
export function referenceIncompatibility(spec: LoraSpec): string[] {
  const canon = canonicalSpec(spec);
  const why: string[] = [];
  if (canon.targets.length !== 2 || canon.targets[0] !== 'q' || canon.targets[1] !== 'v') {
    why.push(`its targets are ${canon.targets.join(',') || 'none'} but the reference format holds exactly q and v adapters`);
  }
  if (canon.decoderTargets) {
    why.push(`it has mask-decoder adapters (${canon.decoderTargets.join(',')}) but the reference format holds only image-encoder adapters`);
  }
  if (canon.alpha !== canon.rank) {
    why.push(`alpha ${canon.alpha} != rank ${canon.rank} (scale ${canon.alpha / canon.rank}) but the reference format has no alpha and always applies scale 1`);
  }
  if (!canon.blocks.every((b, i) => b === i)) {
    why.push(`its blocks ${canon.blocks.join(',')} are not 0..${canon.blocks.length - 1} but the reference format numbers adapters by position from block 0 and cannot skip a block`);
  }
  return why;
}

/**
 * Writes a LoRA atomically. tensors are under native keys and must be exactly the spec's adapters.
 * 'reference' only works for q and v adapters on blocks 0..n-1 with alpha = rank (scale 1): that
 * format cannot say anything else, so anything else is an error, and nothing is written.
 */
export async function saveLora(file: string, tensors: Map<string, HostTensor>, spec: LoraSpec, format: LoraFormat): Promise<void> {
  if (!LORA_FORMATS.includes(format)) throw new LoraFormatError(file, `unknown LoRA format ${JSON.stringify(format)} (expected ${LORA_FORMATS.join(' or ')})`);
  const bad = specProblems(spec);
  if (bad.length) throw new LoraFormatError(file, `cannot save an invalid LoRA spec: ${bad.join('; ')}`);
  const canon = canonicalSpec(spec);
  const mismatch = keyMismatch(canon, tensors);
  if (mismatch.length) {
    throw new LoraFormatError(file, `cannot save: the tensors are not the adapters of the spec (${describe(canon)}): ${mismatch.join('; ')}`);
  }
  const shape = inferNative(tensors, file);
  if (shape.rank !== canon.rank) throw new LoraFormatError(file, `cannot save: the spec says rank ${canon.rank} but the tensors have rank ${shape.rank}`);

  if (format === 'native') {
    await writeSafetensors(file, tensors, {
      format: NATIVE_FORMAT_TAG,
      rank: String(canon.rank),
      alpha: String(canon.alpha),
      blocks: JSON.stringify(canon.blocks),
      targets: JSON.stringify(canon.targets),
      ...(canon.decoderTargets ? { decoderTargets: JSON.stringify(canon.decoderTargets) } : {}),
      version: NATIVE_FORMAT_VERSION,
    });
    return;
  }

  const why = referenceIncompatibility(canon);
  if (why.length) throw new LoraFormatError(file, `cannot save this LoRA in the reference format: ${why.join('; ')}; save it as native instead`);

  const out = new Map<string, HostTensor>();
  for (const b of canon.blocks) {
    (['q', 'v'] as const).forEach((t, j) => {
      out.set(referenceKey('a', 2 * b + j), tensors.get(loraKeyA(b, t))!);
      out.set(referenceKey('b', 2 * b + j), tensors.get(loraKeyB(b, t))!);
    });
  }
  await writeSafetensors(file, out);
}

/**
 * Checks LoRA tensors (native keys) against the adapters a model of config cfg has for spec; throws
 * one error listing every mismatch. source names where the LoRA came from.
 */
export function checkLoraFitsModel(spec: LoraSpec, tensors: Map<string, HostTensor>, cfg: SamConfig, source: string): void {
  const problems = specProblems(spec);
  if (problems.length === 0) {
    for (const b of spec.blocks) if (b >= cfg.depth) problems.push(`block ${b} does not exist (the model has blocks 0..${cfg.depth - 1})`);
    const layout = loraLayout(cfg, spec);
    const expected = new Set(layout.map((l) => l.key));
    for (const { key, shape } of layout) {
      const t = tensors.get(key);
      if (!t) problems.push(`${key}: missing (the model needs ${fmtShape(shape)})`);
      else if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
        problems.push(`${key}: ${fmtShape(t.shape)} but the model needs ${fmtShape(shape)}`);
      }
    }
    for (const key of tensors.keys()) if (!expected.has(key)) problems.push(`${key}: not an adapter of this LoRA spec`);
  }
  if (problems.length) {
    throw new Error(
      `${source}: LoRA (${describe(spec)}) does not fit the model ` +
        `(dim ${cfg.dim}, depth ${cfg.depth}): ${problems.length} mismatch${problems.length === 1 ? '' : 'es'}:\n  ${problems.join('\n  ')}`,
    );
  }
}

/** Summary of a LoRA file, for `sam-lora lora info`. */
export async function loraInfo(file: string): Promise<LoraInfo> {
  const { tensors, spec, format, dim } = await loadLora(file);
  const info: LoraInfo = { file, format, rank: spec.rank, alpha: spec.alpha, blocks: spec.blocks, targets: spec.targets, tensors: tensors.size, dim };
  if (spec.decoderTargets?.length) info.decoderTargets = spec.decoderTargets;
  return info;
}
