// The plain-object tree a configuration is assembled in, and the only ways it is read and written.
// Keys come from hostile files and command lines, so no read or write may reach a prototype:
// lookups check own properties and writes define properties instead of assigning them.

export type Tree = Record<string, unknown>;
/** One step of a path into the tree: a mapping key or a list index. */
export type Seg = string | number;

/** Keys that reach an object's prototype in JavaScript; refused anywhere in a configuration. */
export const FORBIDDEN_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

export const isForbiddenKey = (key: string): boolean => FORBIDDEN_KEYS.has(key);

export const isPlainObject = (v: unknown): v is Tree => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The value at a path, or undefined; only own properties are followed. */
export function getAt(tree: unknown, segs: readonly Seg[]): unknown {
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

function define(obj: Tree, key: string, value: unknown): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

/**
 * Sets a value; a missing mapping on the way is created, a non-mapping is replaced only inside
 * model.variant. False when the path cannot be set (a scalar in the way, or a forbidden key).
 */
export function setAt(tree: Tree, segs: readonly string[], value: unknown): boolean {
  if (segs.some(isForbiddenKey)) return false;
  let cur = tree;
  for (let i = 0; i < segs.length - 1; i++) {
    const s = segs[i]!;
    const next = Object.hasOwn(cur, s) ? cur[s] : undefined;
    if (!isPlainObject(next)) {
      if (next !== undefined && next !== null && segs.slice(0, i + 1).join('.') !== 'model.variant') return false;
      define(cur, s, {});
    }
    cur = cur[s] as Tree;
  }
  define(cur, segs[segs.length - 1]!, value);
  return true;
}

/** `lora.blocks[2]` for ['lora', 'blocks', 2]. */
export function segsToKey(segs: readonly Seg[]): string {
  return segs.reduce<string>((acc, s) => (typeof s === 'number' ? `${acc}[${s}]` : acc === '' ? s : `${acc}.${s}`), '');
}
