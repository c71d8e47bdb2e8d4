// Config text to a plain tree: the size cap, YAML syntax, keys that reach a prototype (refused with
// their line and column before any object is built), and the positions of values for messages.

import { type Document, LineCounter, type Node, isMap, isPair, isScalar, isSeq, parseDocument, visit } from 'yaml';
import { ConfigError, type ConfigProblem, describeValue } from './errors.js';
import { type Seg, type Tree, isForbiddenKey, isPlainObject } from './tree.js';

/** Largest configuration accepted, in bytes: real ones are a few KB; YAML parsing a huge one exhausts the heap. */
export const MAX_CONFIG_BYTES = 1 << 20;

/** Aliases a document may expand (the "billion laughs" bound). */
const MAX_ALIAS_COUNT = 100;

export interface Position {
  line: number;
  column: number;
}

export interface ParsedYaml {
  /** The top-level mapping, or null for an empty document. */
  value: Tree | null;
  /** Where a path's value (or, for a mapping, its key) sits in the text. */
  locate: (yamlPath: readonly Seg[]) => Position | undefined;
}

const tooLarge = (bytes: number): string =>
  `the configuration is ${bytes} bytes, more than the ${MAX_CONFIG_BYTES} a configuration may have (it is a few KB of YAML)`;

/** The size problem of a file of `bytes` bytes, if any. */
export function sizeProblem(bytes: number): ConfigProblem | undefined {
  return bytes > MAX_CONFIG_BYTES ? { key: '', message: tooLarge(bytes) } : undefined;
}

/** Mapping keys anywhere in a document that would reach a prototype, with their positions. */
export function forbiddenKeyProblems(doc: Document, position: (offset: number) => Position): ConfigProblem[] {
  const out: ConfigProblem[] = [];
  visit(doc, {
    Pair(_, pair, path) {
      if (!isPair(pair)) return;
      const key = isScalar(pair.key) ? pair.key.value : pair.key;
      const name = typeof key === 'string' ? key : key === null || typeof key === 'object' ? undefined : String(key);
      if (name === undefined || !isForbiddenKey(name)) return;
      const parents = path.flatMap((n) => (isPair(n) && isScalar(n.key) ? [String(n.key.value)] : []));
      const range = (pair.key as Node | null)?.range;
      out.push({
        key: [...parents, name].join('.'),
        message: `"${name}" is not allowed as a key anywhere in a configuration (it would reach JavaScript object prototypes)`,
        ...(range ? position(range[0]) : {}),
      });
    },
  });
  return out;
}

/** Parses config text; throws one ConfigError for a size, syntax or forbidden-key problem. */
export function parseConfigYaml(text: string, sourceName: string): ParsedYaml {
  const size = sizeProblem(Buffer.byteLength(text, 'utf8'));
  if (size) throw new ConfigError(sourceName, [size]);
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const position = (offset: number): Position => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };
  if (doc.errors.length) {
    throw new ConfigError(
      sourceName,
      doc.errors.map((e) => ({ key: '', message: `YAML syntax error: ${e.message.split('\n')[0]}`, ...position(e.pos[0]) })),
    );
  }
  const forbidden = forbiddenKeyProblems(doc, position);
  if (forbidden.length) throw new ConfigError(sourceName, forbidden);
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (e) {
    throw new ConfigError(sourceName, [{ key: '', message: `YAML error: ${(e as Error).message}` }]);
  }
  if (value === undefined) value = null;
  if (value !== null && !isPlainObject(value)) {
    const message = `the file must be a mapping of sections (model:, lora:, train:, ... or the reference DATASET:, SAM:, TRAIN:), got ${describeValue(value)}`;
    throw new ConfigError(sourceName, [{ key: '', message }]);
  }
  const locate = (yamlPath: readonly Seg[]): Position | undefined => {
    let node: unknown = doc.contents;
    for (let i = 0; i < yamlPath.length; i++) {
      const seg = yamlPath[i]!;
      if (isMap(node)) {
        const pair = node.items.find((it) => (isScalar(it.key) ? String(it.key.value) : String(it.key)) === String(seg));
        if (!pair) return undefined;
        const last = i === yamlPath.length - 1;
        const v = pair.value as Node | null;
        if (last || !v) {
          const target = last && v && isScalar(v) ? v : (pair.key as Node);
          return target.range ? position(target.range[0]) : undefined;
        }
        node = v;
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
  return { value: value as Tree | null, locate };
}

/**
 * A --set value as YAML (a scalar or flow collection), refusing forbidden keys inside it; throws an
 * Error whose message says why.
 */
export function parseOverrideValue(text: string): unknown {
  const doc = parseDocument(text, { prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length) throw new Error(doc.errors[0]!.message.split('\n')[0]);
  const forbidden = forbiddenKeyProblems(doc, () => ({ line: 1, column: 1 }));
  if (forbidden.length) throw new Error(forbidden[0]!.message);
  return doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
}
