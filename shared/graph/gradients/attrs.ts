// Typed reads of node attributes inside gradient rules.

import type { AttrValue } from '../graph.js';

export function attrInt(v: AttrValue | undefined, dflt = 0): number {
  return v && 'i' in v ? v.i : dflt;
}

export function attrFloat(v: AttrValue | undefined, dflt: number): number {
  return v && 'f' in v ? v.f : dflt;
}

export function attrInts(v: AttrValue | undefined, dflt: readonly number[] = []): readonly number[] {
  return v && 'ints' in v ? v.ints : dflt;
}
