// Reverse-mode automatic differentiation over the recorded graph. Emits the backward nodes into
// the same graph, visiting only nodes on a path from a differentiated tensor to the outputs, so
// frozen weights and inputs cost no gradient work.

import type { Composite, Node, Tensor } from './graph.js';
import { add, expand } from './ops/index.js';
import { isInferenceOnly } from './ops/inference.js';
import { gradientRule } from './gradients/index.js';
import { fmt, sameShape } from './shape.js';

/** Vector-Jacobian product: gradients of sum(outputs[k] * cotangents[k]) w.r.t. each of wrt. */
export function vjp(outputs: readonly Tensor[], cotangents: readonly Tensor[], wrt: readonly Tensor[]): Tensor[] {
  const graph = outputs[0]?.graph ?? wrt[0]?.graph;
  if (!graph) return [];
  return vjpOver(graph.nodes.slice(), outputs, cotangents, wrt);
}

/**
 * vjp through the given nodes only (in creation order): the rest of the graph is treated as
 * constant. Recomputation (recompute.ts) differentiates its copy of a block this way, so that the
 * cotangent's own history is never differentiated.
 */
export function vjpOver(nodes: readonly Node[], outputs: readonly Tensor[], cotangents: readonly Tensor[], wrt: readonly Tensor[]): Tensor[] {
  if (outputs.length !== cotangents.length) throw new Error('vjp: one cotangent per output');
  const graph = outputs[0]?.graph ?? wrt[0]?.graph;
  if (!graph) return [];
  outputs.forEach((o, k) => {
    const c = cotangents[k]!;
    if (!sameShape(o.shape, c.shape)) throw new Error(`vjp: cotangent ${fmt(c.shape)} does not match output ${o.name}${fmt(o.shape)}`);
  });

  // Creation order is a topological order.
  // Forward reach: tensors that depend on some wrt tensor.
  const dependsOnWrt = new Set<Tensor>(wrt);
  for (const node of nodes) {
    if (node.inputs.some((x) => x && dependsOnWrt.has(x))) node.outputs.forEach((o) => dependsOnWrt.add(o));
  }
  // Backward reach: tensors the outputs depend on.
  const feedsOutput = new Set<Tensor>(outputs);
  for (let i = nodes.length - 1; i >= 0; i--) {
    const node = nodes[i]!;
    if (node.outputs.some((o) => feedsOutput.has(o))) node.inputs.forEach((x) => x && feedsOutput.add(x));
  }

  const grads = new Map<Tensor, Tensor>();
  const accumulate = (t: Tensor, g: Tensor): void => {
    if (!sameShape(t.shape, g.shape)) {
      throw new Error(`autodiff: gradient ${fmt(g.shape)} for ${t.name}${fmt(t.shape)} (from ${t.producer?.op ?? 'input'})`);
    }
    const prev = grads.get(t);
    grads.set(t, prev ? add(prev, g) : g);
  };
  outputs.forEach((o, k) => accumulate(o, cotangents[k]!));

  // Composites are differentiated as a unit at their output node; their inner nodes are skipped.
  // A composite nested in another (recorded earlier) is covered by the outer one.
  const compositeOf = new Map<number, Composite>();
  for (const c of graph.composites.slice()) for (const id of c.nodeIds) compositeOf.set(id, c);

  for (let i = nodes.length - 1; i >= 0; i--) {
    const node = nodes[i]!;
    const comp = compositeOf.get(node.id);
    if (comp) {
      if (node.outputs.some((o) => o !== comp.output && grads.has(o))) {
        throw new Error(`autodiff: an inner tensor of composite ${comp.name} is used outside it; differentiate it as plain nodes`);
      }
      if (node !== comp.output.producer) continue;
      const dy = grads.get(comp.output);
      const needs = comp.inputs.map((x) => dependsOnWrt.has(x));
      if (!dy || !needs.some(Boolean)) continue;
      comp.grad(comp.inputs, comp.output, dy, needs).forEach((g, k) => {
        if (needs[k] && g) accumulate(comp.inputs[k]!, g);
      });
      continue;
    }
    if (!onPath(node, dependsOnWrt, feedsOutput)) continue;
    const dOut = node.outputs.map((o) => grads.get(o));
    if (dOut.every((g) => g === undefined)) continue;
    const needs = node.inputs.map((x) => x !== null && dependsOnWrt.has(x));
    if (isInferenceOnly(node.meta)) throw new Error(`autodiff: ${node.op} node ${node.name} is inference-only (ops/inference.ts) but lies between a trained tensor and the loss`);
    const rule = gradientRule(node.op);
    if (!rule) throw new Error(`autodiff: no gradient rule for ${node.op} (node ${node.name}), which lies between a trained tensor and the loss`);
    const dIn = rule({ node, dOut, needs });
    node.inputs.forEach((x, k) => {
      const g = dIn[k];
      if (x && needs[k] && g) accumulate(x, g);
    });
  }

  return wrt.map((w) => grads.get(w) ?? expand(graph.scalar(0, w.dtype), w.shape));
}

/** Gradients of a scalar loss (shape [] or [1]) w.r.t. each of wrt. */
export function grad(loss: Tensor, wrt: readonly Tensor[]): Tensor[] {
  if (loss.size !== 1) throw new Error(`grad: loss must be a scalar, got ${loss.name}${fmt(loss.shape)}`);
  const one = loss.graph.constant([1], loss.shape, loss.dtype);
  return vjp([loss], [one], wrt);
}

function onPath(node: Node, dependsOnWrt: Set<Tensor>, feedsOutput: Set<Tensor>): boolean {
  return node.inputs.some((x) => x !== null && dependsOnWrt.has(x)) && node.outputs.some((o) => feedsOutput.has(o));
}
