// One gradient rule per ONNX op type. A rule gets the forward node and the gradient of each of
// its outputs, and returns the gradient of each input that `needs` asks for (undefined otherwise).

import type { Node, Tensor } from '../graph.js';

export interface GradContext {
  readonly node: Node;
  /** Gradient of each output, undefined where no gradient flows into that output. */
  readonly dOut: readonly (Tensor | undefined)[];
  /** needs[i]: input i lies on a path from a differentiated tensor; only those get gradients. */
  readonly needs: readonly boolean[];
}

export type GradRule = (ctx: GradContext) => readonly (Tensor | undefined)[];

const rules = new Map<string, GradRule>();

export function registerGradient(op: string, rule: GradRule): void {
  if (rules.has(op)) throw new Error(`gradient rule for ${op} registered twice`);
  rules.set(op, rule);
}

export function gradientRule(op: string): GradRule | undefined {
  return rules.get(op);
}

export function registeredOps(): string[] {
  return [...rules.keys()].sort();
}
