// One symbolic (run-time) dimension for a graph the builder can only make with static shapes:
// build it at three probe sizes, check that the builds differ only where the size enters, and keep
// the first build with those places made symbolic. Inference-only: the result is for export.
//
// Where the size may enter: a dim of a graph input or output equal to the size (written as an ONNX
// dim_param), and Reshape targets, where the one entry that follows the size becomes -1 (inferred
// by ONNX at run time). Anything else that varies with the size (an Expand or Slice bound, a float
// constant, another node or attribute) cannot be made symbolic this way and is an error naming it.
//
// The probes are large primes, so dims derived from the size (n + 5, 2n) never coincide with the
// graph's fixed sizes (which would merge constants and make the builds differ in structure), and
// three of them let us check that every varying entry is affine in the size.

import type { HostArray } from './dtype.js';
import type { Graph, Node, Tensor } from './graph.js';
import { fmt } from './shape.js';

export const PROBE_SIZES: readonly number[] = [1009, 1013, 1019];

function sameBytes(a: HostArray, b: HostArray): boolean {
  if (a === b) return true;
  if (a.byteLength !== b.byteLength) return false;
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

/** Everything about a graph except tensor sizes and initializer values, one line per item. */
function structure(g: Graph): string[] {
  const io = (kind: string, t: Tensor): string => `${kind} ${t.name}:${t.dtype} rank ${t.rank}`;
  return [
    ...g.inputs.map((t) => io('input', t)),
    ...g.outputs.map((t) => io('output', t)),
    ...[...g.initializers.values()].map(({ tensor: t }) => `initializer ${t.name}:${t.dtype}${fmt(t.shape)}`),
    ...g.nodes.map((n) => `node ${n.name} ${n.op}(${n.inputs.map((x) => x?.name ?? '').join(', ')}) -> ${n.outputs.map((o) => o.name).join(', ')} ${JSON.stringify(n.attrs)}`),
  ];
}

function checkSameStructure(graphs: readonly Graph[], probes: readonly number[], dimName: string): void {
  const first = structure(graphs[0]!);
  graphs.slice(1).forEach((g, k) => {
    const other = structure(g);
    const i = first.findIndex((line, j) => line !== other[j]);
    if (i >= 0 || other.length !== first.length) {
      const at = i >= 0 ? i : Math.min(first.length, other.length);
      throw new Error(
        `${dimName}: graph ${g.name} is not the same graph at sizes ${probes[0]} and ${probes[k + 1]}: ` +
          `"${first[at] ?? '(nothing)'}" vs "${other[at] ?? '(nothing)'}"`,
      );
    }
  });
}

/** Marks the input/output dims that follow the size as symbolic. */
function symbolicIo(graphs: readonly Graph[], probes: readonly number[], dimName: string, pick: (g: Graph) => readonly Tensor[]): void {
  pick(graphs[0]!).forEach((t, i) => {
    const dims: Record<number, string> = {};
    t.shape.forEach((_, axis) => {
      const sizes = graphs.map((g) => pick(g)[i]!.shape[axis]!);
      if (sizes.every((d) => d === sizes[0])) return;
      if (!sizes.every((d, k) => d === probes[k])) {
        throw new Error(`${dimName}: axis ${axis} of ${t.name} is ${sizes.join(', ')} at sizes ${probes.join(', ')}; only a dim equal to the size can be symbolic`);
      }
      dims[axis] = dimName;
    });
    if (Object.keys(dims).length) t.graph.symbolicDims(t, dims);
  });
}

function consumersOf(g: Graph): Map<string, { node: Node; slot: number }[]> {
  const m = new Map<string, { node: Node; slot: number }[]>();
  for (const node of g.nodes) {
    node.inputs.forEach((x, slot) => {
      if (!x) return;
      const list = m.get(x.name) ?? [];
      list.push({ node, slot });
      m.set(x.name, list);
    });
  }
  return m;
}

/** A Reshape target that varies with the size: the one varying entry becomes -1. */
function generalizeReshapeTarget(name: string, values: readonly BigInt64Array[], probes: readonly number[], dimName: string): BigInt64Array {
  const first = values[0]!;
  const varying = [...first.keys()].filter((j) => values.some((v) => v[j] !== first[j]));
  const show = values.map((v) => `[${[...v].join(', ')}]`).join(' / ');
  if (varying.length !== 1) {
    throw new Error(`${dimName}: Reshape target ${name} is ${show} at sizes ${probes.join(', ')}: ${varying.length} entries vary with the size, only one can be inferred`);
  }
  const j = varying[0]!;
  const at = values.map((v) => Number(v[j]));
  const slope = (at[1]! - at[0]!) / (probes[1]! - probes[0]!);
  const affine = at.every((v, k) => v === at[0]! + slope * (probes[k]! - probes[0]!));
  if (!affine) throw new Error(`${dimName}: Reshape target ${name} is ${show} at sizes ${probes.join(', ')}: not affine in the size`);
  const out = BigInt64Array.from(first);
  out[j] = -1n;
  return out;
}

/**
 * Builds the graph at each probe size and returns the first build with the size made symbolic
 * under dimName (see the top of this file). Throws when the builds differ anywhere else.
 */
export function generalizeDim(build: (n: number) => Graph, dimName: string, probes: readonly number[] = PROBE_SIZES): Graph {
  if (probes.length < 3 || new Set(probes).size !== probes.length) throw new Error(`${dimName}: need at least three distinct probe sizes`);
  const graphs = probes.map((n) => build(n));
  checkSameStructure(graphs, probes, dimName);
  const g = graphs[0]!;
  symbolicIo(graphs, probes, dimName, (x) => x.inputs);
  symbolicIo(graphs, probes, dimName, (x) => x.outputs);
  const consumers = consumersOf(g);
  for (const [name, init] of g.initializers) {
    const values = graphs.map((x) => x.initializers.get(name)!.data);
    if (values.every((v) => sameBytes(v, values[0]!))) continue;
    const users = consumers.get(name) ?? [];
    const reshapeTarget = init.tensor.dtype === 'int64' && users.length > 0 && users.every((u) => u.node.op === 'Reshape' && u.slot === 1);
    if (!reshapeTarget) {
      const used = users.map((u) => `${u.node.op} ${u.node.name} input ${u.slot}`).join(', ') || 'nothing';
      throw new Error(`${dimName}: constant ${init.tensor.name}${fmt(init.tensor.shape)} varies with the size and feeds ${used}; only Reshape targets can follow the size`);
    }
    g.initializers.set(name, { tensor: init.tensor, data: generalizeReshapeTarget(name, values as BigInt64Array[], probes, dimName) });
  }
  return g;
}
