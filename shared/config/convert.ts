// RawConfig (YAML's snake_case, paths as written) <-> TrainConfig (camelCase, paths absolute). The
// conversion is derived from the key names, so a key added to the schema, the defaults and
// TrainConfig needs nothing here; the few keys whose value changes form are listed below, and
// SAME_KEYS makes the build fail when TrainConfig and the schema disagree on a key.

import type { RawConfig, TrainConfig } from './schema.js';
import { isPlainObject } from './tree.js';

type CamelKey<S extends string> = S extends `${infer H}_${infer T}` ? `${H}${Capitalize<CamelKey<T>>}` : S;

/** The dotted key paths of an object type (lists and scalars are leaves). */
type KeyPaths<T> = T extends readonly unknown[]
  ? never
  : T extends object
    ? { [K in keyof T & string]: K | `${K}.${KeyPaths<T[K]>}` }[keyof T & string]
    : never;

/** camelCase key paths of RawConfig, as TrainConfig must have them. */
type CamelPaths<T> = T extends readonly unknown[]
  ? never
  : T extends object
    ? { [K in keyof T & string]: CamelKey<K> | `${CamelKey<K>}.${CamelPaths<T[K]>}` }[keyof T & string]
    : never;

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
/** Compile-time check: TrainConfig (less `source`) has exactly the schema's keys, camelCased. */
const SAME_KEYS: Same<KeyPaths<Omit<TrainConfig, 'source'>>, CamelPaths<RawConfig>> = true;
void SAME_KEYS;

const toCamel = (k: string): string => k.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
const toSnake = (k: string): string => k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** A deep copy with every mapping key renamed (lists are copied, their items kept). */
function renameKeys(value: unknown, rename: (k: string) => string): unknown {
  if (Array.isArray(value)) return value.map((v) => renameKeys(v, rename));
  if (!isPlainObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    Object.defineProperty(out, rename(k), { value: renameKeys(v, rename), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** The resolved configuration of a validated RawConfig; resolved maps each path key to its absolute path. */
export function toTrainConfig(r: RawConfig, resolved: ReadonlyMap<string, string | null>, source: string): TrainConfig {
  const c = renameKeys(r, toCamel) as Omit<TrainConfig, 'source'>;
  const { hflip } = r.train.augment;
  c.lora.alpha = r.lora.alpha ?? r.lora.rank;
  c.train.augment.hflip = hflip === true ? 0.5 : hflip === false ? 0 : hflip;
  c.model.checkpoint = resolved.get('model.checkpoint') ?? null;
  c.data.train = resolved.get('data.train') ?? null;
  c.data.test = resolved.get('data.test') ?? null;
  c.checkpoint.dir = resolved.get('checkpoint.dir')!;
  return { source, ...c };
}

/** The YAML form of a resolved config (snake_case keys, absolute paths). */
export function toRawConfig(c: TrainConfig): RawConfig {
  const { source: _source, ...rest } = c;
  return renameKeys(rest, toSnake) as RawConfig;
}
