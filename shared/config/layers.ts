// The layers a configuration is built from, each a list of leaf assignments with their origin: the
// config file (our sections and the reference project's upper-case ones) and the command line's
// --set overrides.

import { type ConfigProblem, type ProblemSource, describeValue, suggest } from './errors.js';
import { REFERENCE_KEYS, STRING_KEYS, knownKeys } from './schema.js';
import { type Seg, type Tree, isForbiddenKey, isPlainObject } from './tree.js';
import { parseOverrideValue } from './yaml_text.js';

export interface Origin {
  /** The key as the user wrote it. */
  key: string;
  source: ProblemSource;
  /** Where the value sits in the YAML document (file origins). */
  yamlPath?: Seg[];
  /** Directory relative paths in this value resolve against. */
  baseDir: string;
}

export interface Assignment {
  path: string[];
  value: unknown;
  origin: Origin;
}

/** A problem found while reading a layer; yamlPath locates it in the file. */
export type LayerProblem = ConfigProblem & { yamlPath?: Seg[] };

export interface Layer {
  assignments: Assignment[];
  problems: LayerProblem[];
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

/** The config file's layer (its top-level mapping, null for an empty file). */
export function fileLayer(value: Tree | null, baseDir: string): Layer {
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

/** The --set layer: dotted keys (ours or the reference's) to YAML values. */
export function overrideLayer(overrides: Record<string, string>, cwd: string): Layer {
  const assignments: Assignment[] = [];
  const problems: LayerProblem[] = [];
  const fail = (key: string, message: string): void => void problems.push({ key, message, source: 'command line' });
  for (const [key, text] of Object.entries(overrides)) {
    const forbidden = key.split('.').find(isForbiddenKey);
    if (forbidden !== undefined) {
      fail(key, `"${forbidden}" is not allowed as a key anywhere in a configuration (it would reach JavaScript object prototypes)`);
      continue;
    }
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
        value = parseOverrideValue(text);
      } catch (e) {
        fail(key, `cannot parse the value ${JSON.stringify(text)}: ${(e as Error).message}`);
        continue;
      }
    }
    flatten(value, target, { key, source: 'command line', baseDir: cwd }, assignments);
  }
  return { assignments, problems };
}
