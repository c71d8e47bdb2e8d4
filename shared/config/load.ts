// The configuration's public API and its pipeline: defaults <- config file (our keys and/or the
// reference project's upper-case keys) <- command-line overrides, validated into one ConfigError
// listing every problem (syntax aside, which stops at once) before any work starts. The parts live
// beside it: yaml_text.ts (text to tree), layers.ts (file and --set layers), validate.ts (problems),
// convert.ts (RawConfig <-> TrainConfig), tree.ts (prototype-safe tree access).

import { statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import * as path from 'node:path';
import { Document, visit } from 'yaml';
import { toRawConfig, toTrainConfig } from './convert.js';
import { DEFAULT_CONFIG_YAML, DEFAULT_SOURCE, defaultRawConfig } from './defaults.js';
import { ConfigError, type ConfigProblem } from './errors.js';
import { type Layer, type LayerProblem, type Origin, fileLayer, overrideLayer } from './layers.js';
import { EXCLUSIVE_PAIRS, PATH_KEYS, REQUIRED_IN_FILE, type RawConfig, type TrainConfig, rawConfigSchema } from './schema.js';
import { type Seg, type Tree, getAt, segsToKey, setAt } from './tree.js';
import { crossProblems, issueMessages } from './validate.js';
import { MAX_CONFIG_BYTES, parseConfigYaml, sizeProblem } from './yaml_text.js';

export { toRawConfig } from './convert.js';

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

function statOf(p: string): 'file' | 'dir' | 'other' | 'missing' {
  try {
    const s = statSync(p);
    return s.isDirectory() ? 'dir' : s.isFile() ? 'file' : 'other';
  } catch {
    return 'missing';
  }
}

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

// ---------------------------------------------------------------------------------------------
// Public API

/**
 * Parses and validates config text. Relative paths resolve against options.baseDir (default: the
 * directory of sourceName); overrides are applied on top before validation.
 */
export function parseConfigText(text: string, sourceName: string, options: ParseOptions = {}): TrainConfig {
  const { value, locate } = parseConfigYaml(text, sourceName);
  const baseDir = options.baseDir ?? path.dirname(path.resolve(sourceName));
  return build({
    file: sourceName,
    baseDir,
    cwd: options.cwd ?? process.cwd(),
    base: defaultRawConfig(),
    fileLayer: fileLayer(value, baseDir),
    overrides: options.overrides,
    checkPaths: options.checkPaths ?? true,
    locateInFile: locate,
  });
}

/** A config file's text, refused by size before it is read (a huge YAML file exhausts the heap). */
async function readConfigFile(abs: string): Promise<string> {
  const unreadable = (e: unknown): ConfigError => {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'file not found' : err.code === 'EISDIR' ? 'is a directory' : (err.code ?? err.message);
    return new ConfigError(abs, [{ key: '', message: `cannot read the config file: ${why}` }]);
  };
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(abs, 'r');
  } catch (e) {
    throw unreadable(e);
  }
  try {
    const { size } = await fh.stat();
    const large = sizeProblem(size);
    if (large) throw new ConfigError(abs, [large]);
    // Read at most one byte past the cap: a file still growing cannot slip a larger text through.
    const buf = Buffer.alloc(Math.min(size, MAX_CONFIG_BYTES) + 1);
    let bytesRead = 0;
    while (bytesRead < buf.length) {
      const { bytesRead: n } = await fh.read(buf, bytesRead, buf.length - bytesRead, bytesRead);
      if (n === 0) break;
      bytesRead += n;
    }
    const tooLong = sizeProblem(bytesRead);
    if (tooLong) throw new ConfigError(abs, [tooLong]);
    return buf.subarray(0, bytesRead).toString('utf8');
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw unreadable(e);
  } finally {
    await fh.close();
  }
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
  const text = await readConfigFile(abs);
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
