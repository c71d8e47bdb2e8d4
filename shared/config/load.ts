// Loads, merges and validates the training configuration: defaults <- config file (our keys and/or
// the reference project's upper-case keys) <- command-line overrides. Every problem found anywhere
// (syntax aside, which stops at once) is collected into one ConfigError before any work starts.

import { statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { Document, LineCounter, type Node, isMap, isScalar, isSeq, parse as parseYaml, parseDocument, visit } from 'yaml';
import type { z } from 'zod';
import { validateConfig } from '../sam/config.js';
import { DEFAULT_CONFIG_YAML, DEFAULT_SOURCE, defaultRawConfig } from './defaults.js';
import { ConfigError, type ConfigProblem, type ProblemSource, describeValue, suggest } from './errors.js';
import { blockProblems, decoderHeadProblems, declaredModelConfig } from './model_fit.js';
import {
  EXCLUSIVE_PAIRS,
  PATH_KEYS,
  REFERENCE_KEYS,
  REQUIRED_IN_FILE,
  type RawConfig,
  STRING_KEYS,
  type TrainConfig,
  customVariantSchema,
  knownKeys,
  rawConfigSchema,
} from './schema.js';

type Tree = Record<string, unknown>;
type Seg = string | number;

interface Origin {
  /** The key as the user wrote it. */
  key: string;
  source: ProblemSource;
  /** Where the value sits in the YAML document (file origins). */
  yamlPath?: Seg[];
  /** Directory relative paths in this value resolve against. */
  baseDir: string;
}

interface Assignment {
  path: string[];
  value: unknown;
  origin: Origin;
}

/** A problem found while reading a layer; yamlPath locates it in the file. */
type LayerProblem = ConfigProblem & { yamlPath?: Seg[] };

interface Layer {
  assignments: Assignment[];
  problems: LayerProblem[];
}

export interface ParseOptions {
  /** Directory relative paths in the text resolve against (default: the directory of sourceName). */
  baseDir?: string;
  /** Dotted-key overrides, as applyOverrides takes them. */
  overrides?: Record<string, string>;
  /** Directory relative paths in overrides resolve against (default: process.cwd()). */
  cwd?: string;
  /** Check that dataset directories and the checkpoint exist (default true). */
  checkPaths?: boolean;
}

const isPlainObject = (v: unknown): v is Tree => typeof v === 'object' && v !== null && !Array.isArray(v);

function getAt(tree: unknown, segs: readonly Seg[]): unknown {
  let cur: unknown = tree;
  for (const s of segs) {
    if (typeof s === 'number') {
      if (!Array.isArray(cur)) return undefined;
      cur = cur[s];
    } else {
      if (!isPlainObject(cur) || !Object.hasOwn(cur, s)) return undefined;
      cur = cur[s];
    }
  }
  return cur;
}

/** Sets a value; a missing mapping on the way is created, a non-mapping is replaced only inside model.variant. */
function setAt(tree: Tree, segs: readonly string[], value: unknown): boolean {
  let cur = tree;
  for (let i = 0; i < segs.length - 1; i++) {
    const s = segs[i]!;
    const next = cur[s];
    if (!isPlainObject(next)) {
      if (next !== undefined && next !== null && segs.slice(0, i + 1).join('.') !== 'model.variant') return false;
      cur[s] = {};
    }
    cur = cur[s] as Tree;
  }
  cur[segs[segs.length - 1]!] = value;
  return true;
}

/** `lora.blocks[2]` for ['lora', 'blocks', 2]. */
function segsToKey(segs: readonly Seg[]): string {
  return segs.reduce<string>((acc, s) => (typeof s === 'number' ? `${acc}[${s}]` : acc === '' ? s : `${acc}.${s}`), '');
}

/**
 * One assignment per leaf (scalar or list) of a value. An empty mapping where the schema has a
 * section (`augment: {}`) changes nothing; elsewhere (an unknown key, a custom variant) it is a value.
 */
function flatten(value: unknown, segs: string[], origin: Origin, out: Assignment[]): void {
  if (isPlainObject(value) && Object.keys(value).length === 0 && segs.join('.') !== 'model.variant' && knownKeys(segs)?.length) return;
  if (isPlainObject(value) && Object.keys(value).length > 0) {
    for (const [k, v] of Object.entries(value)) {
      flatten(v, [...segs, k], { ...origin, key: `${origin.key}.${k}`, yamlPath: origin.yamlPath && [...origin.yamlPath, k] }, out);
    }
    return;
  }
  out.push({ path: segs, value, origin });
}

// ---------------------------------------------------------------------------------------------
// Layers: the file and the command line

function fileLayer(value: Tree | null, baseDir: string): Layer {
  const assignments: Assignment[] = [];
  const problems: LayerProblem[] = [];
  if (value === null) return { assignments, problems };
  const origin = (key: string, yamlPath: Seg[]): Origin => ({ key, source: 'file', yamlPath, baseDir });
  for (const [section, body] of Object.entries(value)) {
    const reference = Object.hasOwn(REFERENCE_KEYS, section) ? REFERENCE_KEYS[section]! : undefined;
    if (reference) {
      if (body === null) continue;
      if (!isPlainObject(body)) {
        problems.push({ key: section, message: `must be a mapping (reference section), got ${describeValue(body)}`, yamlPath: [section] });
        continue;
      }
      for (const [sub, v] of Object.entries(body)) {
        const target = Object.hasOwn(reference, sub) ? reference[sub]! : undefined;
        const key = `${section}.${sub}`;
        if (!target) {
          const hint = suggest(sub, Object.keys(reference));
          const known = Object.keys(reference).map((k) => `${section}.${k}`).join(', ');
          problems.push({ key, message: `unknown key${hint ? ` (did you mean ${section}.${hint}?)` : ''}; the reference keys of ${section} are ${known}`, yamlPath: [section, sub] });
          continue;
        }
        assignments.push({ path: target.split('.'), value: v, origin: origin(key, [section, sub]) });
      }
      continue;
    }
    // Our own sections. An empty section (`train:` with everything commented out) is no change.
    if (body === null && knownKeys([section])) continue;
    flatten(body, [section], origin(section, [section]), assignments);
  }
  return { assignments, problems };
}

function overrideLayer(overrides: Record<string, string>, cwd: string): Layer {
  const assignments: Assignment[] = [];
  const problems: LayerProblem[] = [];
  const fail = (key: string, message: string): void => void problems.push({ key, message, source: 'command line' });
  for (const [key, text] of Object.entries(overrides)) {
    let target: string[] | undefined;
    if (/^[A-Z]/.test(key)) {
      const [section = '', sub = '', ...more] = key.split('.');
      const reference = Object.hasOwn(REFERENCE_KEYS, section) ? REFERENCE_KEYS[section]! : undefined;
      const mapped = reference && Object.hasOwn(reference, sub) && more.length === 0 ? reference[sub] : undefined;
      if (!mapped) {
        const all = Object.entries(REFERENCE_KEYS).flatMap(([s, subs]) => Object.keys(subs).map((k) => `${s}.${k}`));
        const hint = suggest(key, all);
        fail(key, `unknown key${hint ? ` (did you mean ${hint}?)` : ''}`);
        continue;
      }
      target = mapped.split('.');
    } else {
      const segs = key.split('.');
      let bad: string | undefined;
      for (let i = 0; i < segs.length && bad === undefined; i++) {
        const keys = knownKeys(segs.slice(0, i)) ?? [];
        if (!keys.includes(segs[i]!)) {
          const prefix = segs.slice(0, i).join('.');
          const hint = suggest(segs[i]!, keys);
          bad = `unknown key${hint ? ` (did you mean ${prefix ? `${prefix}.` : ''}${hint}?)` : ''}`;
        }
      }
      if (bad !== undefined) {
        fail(key, bad);
        continue;
      }
      target = segs;
    }
    const dotted = target.join('.');
    let value: unknown;
    if (STRING_KEYS.has(dotted)) {
      value = text === 'null' || text === '~' ? null : text;
    } else {
      try {
        value = parseYaml(text, { prettyErrors: false });
      } catch (e) {
        fail(key, `cannot parse the value ${JSON.stringify(text)}: ${(e as Error).message.split('\n')[0]}`);
        continue;
      }
    }
    flatten(value, target, { key, source: 'command line', baseDir: cwd }, assignments);
  }
  return { assignments, problems };
}

// ---------------------------------------------------------------------------------------------
// Validation

/** Turns zod issues into located problems (union issues: the branch that matches the value's kind). */
function issueMessages(issues: readonly z.core.$ZodIssue[], prefix: Seg[], tree: unknown): { segs: Seg[]; message: string }[] {
  const out: { segs: Seg[]; message: string }[] = [];
  for (const issue of issues) {
    const segs: Seg[] = [...prefix, ...(issue.path as Seg[])];
    const value = getAt(tree, segs);
    const got = ` (got ${describeValue(value)})`;
    switch (issue.code) {
      case 'unrecognized_keys': {
        const parent = segs.filter((s): s is string => typeof s === 'string');
        const candidates = [...(knownKeys(parent) ?? []), ...(parent.length === 0 ? Object.keys(REFERENCE_KEYS) : [])];
        for (const k of issue.keys) {
          const hint = suggest(k, candidates);
          out.push({ segs: [...segs, k], message: `unknown key${hint ? ` (did you mean ${segsToKey([...segs, hint])}?)` : ''}` });
        }
        break;
      }
      case 'invalid_union': {
        const score = (branch: readonly z.core.$ZodIssue[]): number =>
          Math.max(0, ...branch.map((i) => (i.path.length > 0 ? 0 : i.code === 'invalid_type' ? 2 : 1)));
        const best = [...issue.errors].sort((a, b) => score(a) - score(b))[0] ?? [];
        out.push(...issueMessages(best, segs, tree));
        break;
      }
      case 'invalid_type': {
        const names: Record<string, string> = { object: 'a mapping', array: 'a list', tuple: 'a list', int: 'an integer', boolean: 'true or false', string: 'a string', number: 'a number' };
        const expected = names[issue.expected] ?? issue.expected;
        if (value === undefined) out.push({ segs, message: 'required' });
        else if (issue.expected === 'int' && typeof value === 'number') out.push({ segs, message: `must be an integer${got}` });
        else out.push({ segs, message: `expected ${expected}${got}` });
        break;
      }
      case 'too_small':
      case 'too_big': {
        const small = issue.code === 'too_small';
        const bound = small ? (issue as z.core.$ZodIssueTooSmall).minimum : (issue as z.core.$ZodIssueTooBig).maximum;
        const inclusive = issue.inclusive ?? true;
        if (issue.origin === 'array') out.push({ segs, message: `must have ${small ? 'at least' : 'at most'} ${String(bound)} item${Number(bound) === 1 ? '' : 's'}${got}` });
        else if (issue.origin === 'string') out.push({ segs, message: `must not be empty` });
        else out.push({ segs, message: `must be ${small ? (inclusive ? '>=' : '>') : inclusive ? '<=' : '<'} ${String(bound)}${got}` });
        break;
      }
      case 'invalid_value': {
        const custom = !issue.message.startsWith('Invalid');
        out.push({ segs, message: custom ? `${issue.message}${got}` : `must be one of ${issue.values.map(String).join(', ')}${got}` });
        break;
      }
      default:
        out.push({ segs, message: issue.message });
    }
  }
  return out;
}

/** Problems between keys, and those of the model a config pins without reading weights. */
function crossProblems(tree: Tree): { segs: Seg[]; message: string }[] {
  const out: { segs: Seg[]; message: string }[] = [];
  const at = (p: string): unknown => getAt(tree, p.split('.'));
  const num = (p: string): number | undefined => {
    const v = at(p);
    return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
  };
  const steps = at('eval.interval_steps');
  const epochs = at('eval.interval_epochs');
  if (steps !== null && steps !== undefined && epochs !== null && epochs !== undefined) {
    out.push({ segs: ['eval', 'interval_steps'], message: 'set either eval.interval_steps or eval.interval_epochs, not both' });
  }
  const patience = at('eval.early_stopping.patience');
  if (patience !== null && patience !== undefined) {
    if (steps === null && epochs === null) {
      out.push({ segs: ['eval', 'early_stopping', 'patience'], message: 'early stopping needs evaluation: set eval.interval_epochs or eval.interval_steps' });
    } else if (at('data.test') === null && at('data.train') !== null) {
      out.push({ segs: ['eval', 'early_stopping', 'patience'], message: 'early stopping needs a test set: set data.test' });
    }
  }
  const lr = num('optimizer.lr');
  const minLr = num('schedule.min_lr');
  if (lr !== undefined && minLr !== undefined && lr > 0 && minLr > lr) {
    out.push({ segs: ['schedule', 'min_lr'], message: `must not exceed optimizer.lr ${lr} (got ${minLr})` });
  }
  for (const list of ['lora.blocks', 'lora.targets', 'lora.decoder_targets']) {
    const v = at(list);
    if (!Array.isArray(v)) continue;
    v.forEach((x, i) => {
      if (v.indexOf(x) !== i) out.push({ segs: [...list.split('.'), i], message: `${describeValue(x)} is listed twice` });
    });
  }
  if (at('train.prompt.mode') === 'mixed') {
    const points = at('train.prompt.points');
    const negatives = at('train.prompt.negative_points');
    if (typeof points === 'number' && points !== 1) out.push({ segs: ['train', 'prompt', 'points'], message: `mixed mode prompts with a box or one positive point: must be 1 (got ${points})` });
    if (typeof negatives === 'number' && negatives !== 0) out.push({ segs: ['train', 'prompt', 'negative_points'], message: `mixed mode has no negative points: must be 0 (got ${negatives})` });
  }
  for (const factor of ['brightness', 'contrast', 'saturation']) {
    const r = at(`train.augment.${factor}`);
    if (Array.isArray(r) && typeof r[0] === 'number' && typeof r[1] === 'number' && r[0] > r[1]) {
      out.push({ segs: ['train', 'augment', factor], message: `must be [lo, hi] with lo <= hi (got ${JSON.stringify(r)})` });
    }
  }
  const format = at('data.format');
  if (typeof at('data.annotations') === 'string' && (format === 'reference' || format === 'instance')) {
    out.push({ segs: ['data', 'annotations'], message: `only COCO datasets have an annotation file (data.format is ${format})` });
  }
  const targets = at('lora.targets');
  const decoderTargets = at('lora.decoder_targets');
  if (Array.isArray(targets) && targets.length === 0 && Array.isArray(decoderTargets) && decoderTargets.length === 0 && at('train.train_decoder') === false) {
    out.push({ segs: ['lora', 'targets'], message: 'nothing to train: no encoder targets, no lora.decoder_targets and train.train_decoder is false' });
  }
  // The model, when the config pins it: custom fields consistent, decoder heads, block range.
  const variant = at('model.variant');
  const dheads = num('model.decoder_heads');
  const checkpoint = at('model.checkpoint');
  if (dheads !== undefined && Number.isInteger(dheads) && dheads > 0 && (checkpoint === null || typeof checkpoint === 'string')) {
    let declared: ReturnType<typeof declaredModelConfig> = null;
    if (isPlainObject(variant)) {
      const parsed = customVariantSchema.safeParse(variant);
      if (parsed.success) {
        try {
          validateConfig({ ...parsed.data, dheads: 1 });
          declared = declaredModelConfig({ checkpoint, variant: parsed.data, decoderHeads: dheads });
        } catch (e) {
          const msg = (e as Error).message;
          out.push({ segs: ['model', 'variant'], message: `inconsistent custom variant: ${msg.slice(msg.indexOf('invalid SAM config: ') + 20)}` });
        }
      }
    } else if (variant === 'auto' || variant === 'vit_b' || variant === 'vit_l' || variant === 'vit_h') {
      declared = declaredModelConfig({ checkpoint, variant, decoderHeads: dheads });
    }
    if (declared) {
      for (const p of decoderHeadProblems(dheads, declared.pdim)) out.push({ segs: p.key.split('.'), message: p.message });
      const blocks = at('lora.blocks');
      if (Array.isArray(blocks)) {
        for (const p of blockProblems(blocks, declared.depth)) {
          const index = Number(/\[(\d+)\]/.exec(p.key)![1]);
          out.push({ segs: ['lora', 'blocks', index], message: p.message });
        }
      }
    }
  }
  return out;
}

function statOf(p: string): 'file' | 'dir' | 'other' | 'missing' {
  try {
    const s = statSync(p);
    return s.isDirectory() ? 'dir' : s.isFile() ? 'file' : 'other';
  } catch {
    return 'missing';
  }
}

// ---------------------------------------------------------------------------------------------
// The pipeline

interface BuildInput {
  file: string;
  baseDir: string;
  cwd: string;
  base: RawConfig;
  fileLayer?: Layer;
  overrides?: Record<string, string>;
  checkPaths: boolean;
  locateInFile?: (yamlPath: Seg[]) => { line: number; column: number } | undefined;
}

function build(input: BuildInput): TrainConfig {
  const tree = input.base as unknown as Tree;
  const origins = new Map<string, Origin>();
  const problems: ConfigProblem[] = [];
  const assigned = new Set<string>();

  const locate = (segs: readonly Seg[]): { key: string; origin: Origin | undefined; yamlPath: Seg[] | undefined } => {
    const names = segs.map(String);
    for (let n = segs.length; n > 0; n--) {
      const origin = origins.get(names.slice(0, n).join('.'));
      if (!origin) continue;
      const rest = segs.slice(n);
      return { key: segsToKey([origin.key, ...rest]), origin, yamlPath: origin.yamlPath && [...origin.yamlPath, ...rest] };
    }
    // A mapping the user wrote (an unknown section, say): take a leaf under it, cut to its depth.
    const prefix = `${names.join('.')}.`;
    for (const [k, origin] of origins) {
      if (!k.startsWith(prefix) || origin.source !== 'file' || !origin.yamlPath) continue;
      return { key: segsToKey(segs), origin, yamlPath: origin.yamlPath.slice(0, segs.length) };
    }
    return { key: segsToKey(segs), origin: undefined, yamlPath: undefined };
  };
  const problemAt = (segs: readonly Seg[], message: string): ConfigProblem => {
    const { key, origin, yamlPath } = locate(segs);
    if (origin?.source === 'command line') return { key, message, source: 'command line' };
    const pos = yamlPath && input.locateInFile?.(yamlPath);
    return pos ? { key, message, line: pos.line, column: pos.column } : { key, message };
  };
  const withPosition = (p: LayerProblem): ConfigProblem => {
    const { yamlPath, ...rest } = p;
    const pos = yamlPath && input.locateInFile?.(yamlPath);
    return pos ? { ...rest, line: pos.line, column: pos.column } : rest;
  };

  const applyLayer = (layer: Layer): void => {
    problems.push(...layer.problems.map(withPosition));
    const seen = new Map<string, Origin>();
    const setHere = new Set<string>();
    for (const a of layer.assignments) {
      const dotted = a.path.join('.');
      const earlier = seen.get(dotted);
      if (earlier) {
        const where = (o: Origin): string => {
          const pos = o.yamlPath && input.locateInFile?.(o.yamlPath);
          return pos ? ` (line ${pos.line})` : '';
        };
        problems.push(withPosition({
          key: a.origin.key,
          message: `sets the same setting as ${earlier.key}${where(earlier)}; keep one of them`,
          ...(a.origin.source === 'command line' ? { source: 'command line' as const } : { yamlPath: a.origin.yamlPath }),
        }));
        continue;
      }
      seen.set(dotted, a.origin);
      if (!setAt(tree, a.path, a.value)) continue;
      for (const k of [...origins.keys()]) if (k.startsWith(`${dotted}.`)) origins.delete(k);
      origins.set(dotted, a.origin);
      setHere.add(dotted);
      assigned.add(dotted);
    }
    // Setting one of an exclusive pair turns the other off, unless this layer set both.
    for (const [a, b] of EXCLUSIVE_PAIRS) {
      for (const [mine, other] of [[a, b], [b, a]] as const) {
        if (setHere.has(mine) && !setHere.has(other) && getAt(tree, mine.split('.')) !== null) setAt(tree, other.split('.'), null);
      }
    }
  };

  if (input.fileLayer) applyLayer(input.fileLayer);
  if (input.overrides) applyLayer(overrideLayer(input.overrides, input.cwd));

  if (input.fileLayer) {
    for (const [key, what] of Object.entries(REQUIRED_IN_FILE)) {
      if (!assigned.has(key)) problems.push({ key, message: `required: ${what}` });
    }
  }

  const parsed = rawConfigSchema.safeParse(tree);
  if (!parsed.success) for (const m of issueMessages(parsed.error.issues, [], tree)) problems.push(problemAt(m.segs, m.message));
  for (const m of crossProblems(tree)) problems.push(problemAt(m.segs, m.message));

  // Paths: resolve against the directory of whoever set them; check the filesystem.
  const resolved = new Map<string, string | null>();
  for (const key of PATH_KEYS) {
    const v = getAt(tree, key.split('.'));
    if (typeof v !== 'string' || v === '') {
      resolved.set(key, null);
      continue;
    }
    const base = origins.get(key)?.baseDir ?? input.baseDir;
    const abs = path.resolve(base, v);
    resolved.set(key, abs);
    if (!input.checkPaths) continue;
    const note = path.isAbsolute(v) ? '' : ` (${v} relative to ${base})`;
    const kind = statOf(abs);
    const segs = key.split('.');
    if (key === 'model.checkpoint') {
      if (kind === 'missing') problems.push(problemAt(segs, `checkpoint file not found: ${abs}${note}`));
      else if (kind !== 'file') problems.push(problemAt(segs, `not a checkpoint file: ${abs}${note}`));
    } else if (key === 'checkpoint.dir') {
      if (kind !== 'missing' && kind !== 'dir') problems.push(problemAt(segs, `exists and is not a directory: ${abs}${note}`));
    } else if (kind === 'missing') {
      problems.push(problemAt(segs, `dataset directory not found: ${abs}${note}`));
    } else if (kind !== 'dir') {
      problems.push(problemAt(segs, `not a directory: ${abs}${note}`));
    }
  }
  const annotations = getAt(tree, ['data', 'annotations']);
  if (input.checkPaths && typeof annotations === 'string' && annotations !== '') {
    for (const split of ['data.train', 'data.test']) {
      const dir = resolved.get(split);
      if (!dir || statOf(dir) !== 'dir') continue;
      const file = path.resolve(dir, annotations);
      if (statOf(file) !== 'file') problems.push(problemAt(['data', 'annotations'], `annotation file not found in ${split}: ${file}`));
    }
  }

  if (problems.length || !parsed.success) throw new ConfigError(input.file, problems);
  return toTrainConfig(parsed.data, resolved, input.file);
}

function toTrainConfig(r: RawConfig, resolved: ReadonlyMap<string, string | null>, source: string): TrainConfig {
  const p = (k: string): string | null => resolved.get(k) ?? null;
  return {
    source,
    model: {
      checkpoint: p('model.checkpoint'),
      variant: typeof r.model.variant === 'string' ? r.model.variant : { ...r.model.variant, glob: [...r.model.variant.glob] },
      decoderHeads: r.model.decoder_heads,
    },
    lora: {
      rank: r.lora.rank,
      alpha: r.lora.alpha ?? r.lora.rank,
      blocks: r.lora.blocks === 'all' ? 'all' : [...r.lora.blocks],
      targets: [...r.lora.targets],
      decoderTargets: [...r.lora.decoder_targets],
    },
    train: {
      epochs: r.train.epochs,
      batchSize: r.train.batch_size,
      objectsPerImage: r.train.objects_per_image,
      gradAccumulation: r.train.grad_accumulation,
      trainDecoder: r.train.train_decoder,
      seed: r.train.seed,
      prompt: {
        mode: r.train.prompt.mode,
        points: r.train.prompt.points,
        negativePoints: r.train.prompt.negative_points,
        boxJitter: r.train.prompt.box_jitter,
        boxProbability: r.train.prompt.box_probability,
      },
      augment: {
        hflip: r.train.augment.hflip === true ? 0.5 : r.train.augment.hflip === false ? 0 : r.train.augment.hflip,
        brightness: [...r.train.augment.brightness],
        contrast: [...r.train.augment.contrast],
        saturation: [...r.train.augment.saturation],
      },
      loss: r.train.loss,
    },
    optimizer: {
      name: r.optimizer.name,
      lr: r.optimizer.lr,
      weightDecay: r.optimizer.weight_decay,
      betas: [r.optimizer.betas[0], r.optimizer.betas[1]],
      eps: r.optimizer.eps,
    },
    schedule: { warmupSteps: r.schedule.warmup_steps, cosine: r.schedule.cosine, minLr: r.schedule.min_lr },
    gradClip: { maxNorm: r.grad_clip.max_norm },
    eval: {
      intervalSteps: r.eval.interval_steps,
      intervalEpochs: r.eval.interval_epochs,
      earlyStopping: { patience: r.eval.early_stopping.patience, minDelta: r.eval.early_stopping.min_delta },
    },
    checkpoint: { dir: p('checkpoint.dir')!, intervalSteps: r.checkpoint.interval_steps, keep: r.checkpoint.keep },
    data: {
      train: p('data.train'),
      test: p('data.test'),
      format: r.data.format,
      annotations: r.data.annotations,
      onBadSample: r.data.on_bad_sample,
    },
    runtime: { device: r.runtime.device, gpu: r.runtime.gpu, threads: r.runtime.threads },
  };
}

/** The YAML form of a resolved config (snake_case keys, absolute paths). */
export function toRawConfig(c: TrainConfig): RawConfig {
  return {
    model: {
      checkpoint: c.model.checkpoint,
      variant: typeof c.model.variant === 'string' ? c.model.variant : { ...c.model.variant, glob: [...c.model.variant.glob] },
      decoder_heads: c.model.decoderHeads,
    },
    lora: {
      rank: c.lora.rank,
      alpha: c.lora.alpha,
      blocks: c.lora.blocks === 'all' ? 'all' : [...c.lora.blocks],
      targets: [...c.lora.targets],
      decoder_targets: [...c.lora.decoderTargets],
    },
    train: {
      epochs: c.train.epochs,
      batch_size: c.train.batchSize,
      objects_per_image: c.train.objectsPerImage,
      grad_accumulation: c.train.gradAccumulation,
      train_decoder: c.train.trainDecoder,
      seed: c.train.seed,
      prompt: {
        mode: c.train.prompt.mode,
        points: c.train.prompt.points,
        negative_points: c.train.prompt.negativePoints,
        box_jitter: c.train.prompt.boxJitter,
        box_probability: c.train.prompt.boxProbability,
      },
      augment: {
        hflip: c.train.augment.hflip,
        brightness: [...c.train.augment.brightness],
        contrast: [...c.train.augment.contrast],
        saturation: [...c.train.augment.saturation],
      },
      loss: c.train.loss,
    },
    optimizer: {
      name: c.optimizer.name,
      lr: c.optimizer.lr,
      weight_decay: c.optimizer.weightDecay,
      betas: [c.optimizer.betas[0], c.optimizer.betas[1]],
      eps: c.optimizer.eps,
    },
    schedule: { warmup_steps: c.schedule.warmupSteps, cosine: c.schedule.cosine, min_lr: c.schedule.minLr },
    grad_clip: { max_norm: c.gradClip.maxNorm },
    eval: {
      interval_steps: c.eval.intervalSteps,
      interval_epochs: c.eval.intervalEpochs,
      early_stopping: { patience: c.eval.earlyStopping.patience, min_delta: c.eval.earlyStopping.minDelta },
    },
    checkpoint: { dir: c.checkpoint.dir, interval_steps: c.checkpoint.intervalSteps, keep: c.checkpoint.keep },
    data: {
      train: c.data.train,
      test: c.data.test,
      format: c.data.format,
      annotations: c.data.annotations,
      on_bad_sample: c.data.onBadSample,
    },
    runtime: { device: c.runtime.device, gpu: c.runtime.gpu, threads: c.runtime.threads },
  };
}

// ---------------------------------------------------------------------------------------------
// Public API

/**
 * Parses and validates config text. Relative paths resolve against options.baseDir (default: the
 * directory of sourceName); overrides are applied on top before validation.
 */
export function parseConfigText(text: string, sourceName: string, options: ParseOptions = {}): TrainConfig {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const position = (offset: number): { line: number; column: number } => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };
  if (doc.errors.length) {
    throw new ConfigError(
      sourceName,
      doc.errors.map((e) => ({ key: '', message: `YAML syntax error: ${e.message.split('\n')[0]}`, ...position(e.pos[0]) })),
    );
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    throw new ConfigError(sourceName, [{ key: '', message: `YAML error: ${(e as Error).message}` }]);
  }
  if (value === undefined) value = null;
  if (value !== null && !isPlainObject(value)) {
    const message = `the file must be a mapping of sections (model:, lora:, train:, ... or the reference DATASET:, SAM:, TRAIN:), got ${describeValue(value)}`;
    throw new ConfigError(sourceName, [{ key: '', message }]);
  }
  const locateInFile = (yamlPath: Seg[]): { line: number; column: number } | undefined => {
    let node: unknown = doc.contents;
    for (let i = 0; i < yamlPath.length; i++) {
      const seg = yamlPath[i]!;
      if (isMap(node)) {
        const pair = node.items.find((it) => (isScalar(it.key) ? String(it.key.value) : String(it.key)) === String(seg));
        if (!pair) return undefined;
        const last = i === yamlPath.length - 1;
        const value = pair.value as Node | null;
        if (last || !value) {
          const target = last && value && isScalar(value) ? value : (pair.key as Node);
          return target.range ? position(target.range[0]) : undefined;
        }
        node = value;
      } else if (isSeq(node) && typeof seg === 'number') {
        const item = node.items[seg] as Node | undefined;
        if (!item) return undefined;
        if (i === yamlPath.length - 1) return item.range ? position(item.range[0]) : undefined;
        node = item;
      } else {
        return undefined;
      }
    }
    return undefined;
  };
  const baseDir = options.baseDir ?? path.dirname(path.resolve(sourceName));
  return build({
    file: sourceName,
    baseDir,
    cwd: options.cwd ?? process.cwd(),
    base: defaultRawConfig(),
    fileLayer: fileLayer(value as Tree | null, baseDir),
    overrides: options.overrides,
    checkPaths: options.checkPaths ?? true,
    locateInFile,
  });
}

/**
 * Loads a config file (undefined: the embedded default — demo data and a tiny generated SAM, paths
 * relative to the cwd) and applies the overrides; throws one ConfigError listing every problem.
 */
export async function loadConfig(file: string | undefined, overrides: Record<string, string> = {}, options: Omit<ParseOptions, 'overrides' | 'baseDir'> = {}): Promise<TrainConfig> {
  if (file === undefined) {
    return parseConfigText(DEFAULT_CONFIG_YAML, DEFAULT_SOURCE, { ...options, overrides, baseDir: options.cwd ?? process.cwd() });
  }
  const abs = path.resolve(options.cwd ?? process.cwd(), file);
  let text: string;
  try {
    text = await readFile(abs, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'file not found' : err.code === 'EISDIR' ? 'is a directory' : (err.code ?? err.message);
    throw new ConfigError(abs, [{ key: '', message: `cannot read the config file: ${why}` }]);
  }
  return parseConfigText(text, abs, { ...options, overrides });
}

/**
 * Applies dotted-key overrides (`train.epochs` -> "3", `SAM.RANK` -> "8"; values are YAML scalars or
 * flow collections, e.g. "[q, v]") to a resolved config and validates the result like a file.
 * Relative paths in values resolve against options.cwd (default process.cwd()). An alpha equal to the
 * rank follows a new rank.
 */
export function applyOverrides(config: TrainConfig, overrides: Record<string, string>, options: Pick<ParseOptions, 'cwd' | 'checkPaths'> = {}): TrainConfig {
  const base = toRawConfig(config);
  if (config.lora.alpha === config.lora.rank) base.lora.alpha = null;
  const cwd = options.cwd ?? process.cwd();
  return build({ file: config.source, baseDir: cwd, cwd, base, overrides, checkPaths: options.checkPaths ?? true });
}

/**
 * Splits `--set key=value` arguments into an overrides record; a malformed one (no `=`, empty key)
 * or a key given twice throws one ConfigError.
 */
export function parseSetArgs(args: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  const problems: ConfigProblem[] = [];
  for (const arg of args) {
    const eq = arg.indexOf('=');
    const key = eq < 0 ? arg : arg.slice(0, eq).trim();
    if (eq <= 0 || key === '') problems.push({ key, message: `--set takes key=value (got ${JSON.stringify(arg)})`, source: 'command line' });
    else if (Object.hasOwn(out, key)) problems.push({ key, message: 'given twice with --set', source: 'command line' });
    else out[key] = arg.slice(eq + 1).trim();
  }
  if (problems.length) throw new ConfigError('command line', problems);
  return out;
}

/** The resolved config as YAML, for the run directory; loading it again gives the same config. */
export function configToYaml(config: TrainConfig): string {
  const doc = new Document(toRawConfig(config));
  visit(doc, {
    Seq(_, node) {
      node.flow = true;
    },
  });
  doc.commentBefore = ` sam-lora training configuration, fully resolved (defaults filled in, paths absolute)\n source: ${config.source}`;
  return doc.toString({ lineWidth: 0 });
}
