// Seeded mutations for the fuzz tests: byte-level (flips, overwrites with boundary values,
// truncation, insertion, duplication of a range) and value-level (a JSON-like value with one of its
// leaves or branches replaced by something hostile). Seeded, so a failure names its input's seed.

import { Rng } from '../../shared/random/rng.js';

const BOUNDARY_BYTES = [0x00, 0x01, 0x7f, 0x80, 0xff, 0xfe];

/** One to four random edits of `input` (a new buffer). */
export function mutateBytes(input: Uint8Array, rng: Rng): Buffer {
  let b = Buffer.from(input);
  const edits = rng.int(1, 4);
  for (let e = 0; e < edits; e++) {
    const at = b.length ? rng.int(0, b.length - 1) : 0;
    switch (rng.int(0, 5)) {
      case 0: // flip a bit
        if (b.length) b[at] = b[at]! ^ (1 << rng.int(0, 7));
        break;
      case 1: // a boundary byte (varint continuation bits, sign bits)
        if (b.length) b[at] = BOUNDARY_BYTES[rng.int(0, BOUNDARY_BYTES.length - 1)]!;
        break;
      case 2: // truncate
        b = b.subarray(0, at);
        break;
      case 3: {
        // insert random bytes
        const ins = Buffer.from(Array.from({ length: rng.int(1, 16) }, () => rng.int(0, 255)));
        b = Buffer.concat([b.subarray(0, at), ins, b.subarray(at)]);
        break;
      }
      case 4: {
        // duplicate a range (repeated fields, nested messages)
        const len = rng.int(1, Math.max(1, Math.min(64, b.length - at)));
        b = Buffer.concat([b.subarray(0, at + len), b.subarray(at, at + len), b.subarray(at + len)]);
        break;
      }
      default: // a run of 0xff (a huge varint length)
        if (b.length) b.fill(0xff, at, Math.min(b.length, at + rng.int(1, 10)));
    }
  }
  return b;
}

/** Numbers a hostile peer or client would try. */
export const HOSTILE_NUMBERS = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, -1, 0, -0, 1e308, -1e308, 3e38, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 53 + 2, 0.5, 1e-45];

/** A hostile replacement value: a number, a string with control characters, a huge or deep structure. */
export function hostileValue(rng: Rng): unknown {
  switch (rng.int(0, 7)) {
    case 0:
      return HOSTILE_NUMBERS[rng.int(0, HOSTILE_NUMBERS.length - 1)];
    case 1:
      return '\u0000\n\u001b[2J\u202e'.repeat(rng.int(1, 4));
    case 2:
      return 'x'.repeat(rng.int(0, 100_000));
    case 3:
      return Array.from({ length: rng.int(0, 3000) }, () => rng.int(-5, 5));
    case 4: {
      let v: unknown = 1;
      for (let i = rng.int(1, 200); i > 0; i--) v = [v];
      return v;
    }
    case 5:
      return null;
    case 6:
      // Own keys named like the prototype chain, as JSON.parse makes them.
      return JSON.parse(`{"__proto__": {"polluted": true}, "constructor": "x", "k${rng.int(0, 9)}": true}`) as unknown;
    default:
      return rng.next() < 0.5;
  }
}

/** `value` with one randomly chosen leaf or branch replaced (a deep copy; the input is untouched). */
export function mutateValue(value: unknown, rng: Rng): unknown {
  if (Array.isArray(value) || (typeof value === 'object' && value !== null && !(value instanceof Uint8Array))) {
    const copy: Record<string, unknown> | unknown[] = Array.isArray(value) ? [...value] : { ...(value as Record<string, unknown>) };
    const keys = Object.keys(copy);
    if (keys.length === 0 || rng.next() < 0.15) return hostileValue(rng);
    const k = keys[rng.int(0, keys.length - 1)]!;
    const roll = rng.next();
    if (roll < 0.1) delete (copy as Record<string, unknown>)[k];
    else (copy as Record<string, unknown>)[k] = mutateValue((copy as Record<string, unknown>)[k], rng);
    return copy;
  }
  return hostileValue(rng);
}
