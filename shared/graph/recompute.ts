// Activation recomputation: a piece of the forward pass whose intermediates are not kept for the
// backward pass. The forward runs as usual; the backward emits a second copy of the piece and
// differentiates that copy, so only the piece's inputs stay alive between the two passes.
//
// The copy must not be merged back into the forward by onnxruntime (common-subexpression
// elimination merges nodes with identical inputs) nor run before the backward needs it (the
// scheduler may run any node whose inputs exist). Both are prevented by feeding the copy its
// inputs through a barrier: input + 0 * dy[0], a value that exists only once the cotangent does
// and that no optimiser folds (x * 0 is not 0 in IEEE arithmetic, so it is never simplified away).

import { vjpOver } from './autodiff.js';
import type { Composite, Graph, Node, Tensor } from './graph.js';
import { add, mul, reshape, slice } from './ops/index.js';

/**
 * Builds forward(inputs) and returns its output; the backward pass recomputes it. Tensors the
 * forward uses besides `inputs` (trained weights bound inside it, e.g. LoRA) are found from the
 * recorded nodes and differentiated too; initializers are constants. `inputs` must be used
 * through the argument only, so that the copy reads the barriered version.
 */
export function recomputed(name: string, inputs: readonly Tensor[], forward: (xs: readonly Tensor[]) => Tensor): Tensor {
  const graph = inputs[0]?.graph;
  if (!graph) throw new Error(`recomputed ${name}: needs at least one input`);
  const first = graph.nodes.length;
  const output = forward(inputs);
  const nodes = graph.nodes.slice(first);
  if (!output.producer || output.producer.id < first) throw new Error(`recomputed ${name}: the output must be computed by the forward's own nodes`);
  const others = externalTensors(graph, nodes).filter((t) => !inputs.includes(t));
  const declared = inputs.length;
  const comp: Composite = {
    name,
    inputs: [...inputs, ...others],
    output,
    nodeIds: new Set(nodes.map((n) => n.id)),
    grad: (xs, _y, dy, needs) => recomputeGrad(name, forward, xs.slice(0, declared), xs.slice(declared), dy, needs),
  };
  graph.composites.push(comp);
  return output;
}

/** Non-initializer tensors the nodes read without computing them, in first-use order. */
function externalTensors(graph: Graph, nodes: readonly Node[]): Tensor[] {
  const inside = new Set<Tensor>(nodes.flatMap((n) => n.outputs));
  const seen = new Set<Tensor>();
  for (const n of nodes) {
    for (const x of n.inputs) {
      if (x && !inside.has(x) && !graph.initializers.has(x.name)) seen.add(x);
    }
  }
  return [...seen];
}

/** A [1] zero that exists only once dy does. */
function barrierZero(dy: Tensor): Tensor {
  const first = slice(reshape(dy, [-1]), [0], [1], [0]);
  return mul(first, 0);
}

function recomputeGrad(name: string, forward: (xs: readonly Tensor[]) => Tensor, declared: readonly Tensor[], others: readonly Tensor[], dy: Tensor, needs: readonly boolean[]): (Tensor | undefined)[] {
  const graph = dy.graph;
  const zero = barrierZero(dy);
  const late = declared.map((x) => add(x, zero));
  const first = graph.nodes.length;
  // The copy builds its own inner composites (GELU, nested recomputation), differentiated below.
  const copy = forward(late);
  const nodes = graph.nodes.slice(first);
  for (const n of nodes) {
    const direct = n.inputs.find((x) => x && declared.includes(x));
    if (direct) throw new Error(`recomputed ${name}: the forward reads input ${direct.name} directly instead of through its argument`);
  }
  const wrt = [...late, ...others];
  const want = wrt.filter((_, k) => needs[k]);
  const grads = joined(vjpOver(nodes, [copy], [dy], want));
  let j = 0;
  return wrt.map((_, k) => (needs[k] ? grads[j++] : undefined));
}

/**
 * The gradients, each made to depend on all of them. onnxruntime orders nodes depth-first from
 * each graph output; without this it computes one gradient of every recomputed piece (e.g. dV of
 * each attention chunk) long before another (dQ), keeping every piece's recomputed
 * intermediates alive in between. Joined, a piece's backward finishes before anything uses it.
 */
function joined(grads: readonly Tensor[]): Tensor[] {
  if (grads.length < 2) return [...grads];
  let zero = barrierZero(grads[0]!);
  for (const g of grads.slice(1)) zero = add(zero, barrierZero(g));
  return grads.map((g) => add(g, zero));
}
