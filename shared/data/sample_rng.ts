// Per-sample randomness: every random choice made for a sample (augmentation, object selection,
// prompts) comes from a generator seeded only by (seed, epoch, sample id), never by the process,
// the worker, or the order in which samples are prepared. Two workers preparing the same sample
// in the same epoch therefore produce identical inputs (the distributed equivalence test relies on it).

import { Rng } from '../random/rng.js';

const encoder = new TextEncoder();

/**
 * A stable 32-bit hash of a string: FNV-1a over its UTF-8 bytes, then murmur3's fmix32 finaliser
 * so that keys differing in one character give unrelated seeds.
 */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (const byte of encoder.encode(s)) {
    h ^= byte;
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The key hashed for a sample: `${seed}|${epoch}|${id}`, plus `|${stream}` when a stream is named. */
export function sampleKey(seed: number, epoch: number, id: string, stream?: string): string {
  if (!Number.isFinite(seed) || !Number.isFinite(epoch)) throw new Error(`sample rng: seed ${seed} and epoch ${epoch} must be finite numbers`);
  return stream === undefined ? `${seed}|${epoch}|${id}` : `${seed}|${epoch}|${id}|${stream}`;
}

export function sampleSeed(seed: number, epoch: number, id: string, stream?: string): number {
  return hashString(sampleKey(seed, epoch, id, stream));
}

/** The generator of one sample in one epoch (optionally one named stream of it). */
export function sampleRng(seed: number, epoch: number, id: string, stream?: string): Rng {
  return new Rng(sampleSeed(seed, epoch, id, stream));
}

/**
 * n independent child generators seeded by n draws of `rng`. The data pipeline forks its sample
 * generator into one stream per purpose (augmentation, object choice, prompts) so that the number
 * of draws one purpose makes (a different augmentation config, say) never shifts another's.
 */
export function forkRng(rng: Rng, n: number): Rng[] {
  const seeds = Array.from({ length: n }, () => Math.floor(rng.next() * 4294967296));
  return seeds.map((s) => new Rng(s));
}
