// Lets op builders accept plain numbers next to tensors: `mul(x, 0.5)`.

import type { Tensor } from '../graph.js';

export type Operand = Tensor | number;

/** Turns numbers into scalar constants of the tensor operand's dtype. */
export function lift(op: string, a: Operand, b: Operand): [Tensor, Tensor] {
  if (typeof a === 'number' && typeof b === 'number') throw new Error(`${op}: at least one operand must be a tensor`);
  const ta = typeof a === 'number' ? (b as Tensor).graph.scalar(a, (b as Tensor).dtype) : a;
  const tb = typeof b === 'number' ? ta.graph.scalar(b, ta.dtype) : b;
  return [ta, tb];
}
