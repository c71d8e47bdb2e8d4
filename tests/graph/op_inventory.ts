// What a graph asks of an execution provider: every distinct (op, opset, dtypes) it emits, with
// each node's tensor dtypes bound to the op's ONNX type constraints (T, T1, Tind, B, U, ...), so
// they can be checked against a provider's kernel table (cuda_kernels.ts).
//
// The bindings follow the ONNX operator schemas (onnx/docs/Operators.md, "Type Constraints"):
// e.g. Slice binds data/output to T and starts/ends/axes/steps to Tind; Where binds condition to B
// and X/Y/output to T; Cast binds input to T1 and output to T2; LayerNormalization binds Mean and
// InvStdDev to U. Inputs the schema types as a fixed tensor(int64) (Reshape shape, Expand shape,
// Pad pads, Split split, Squeeze/Unsqueeze axes, ReduceSum axes) are bound under the input's name
// with that fixed type. An op this file has no binding for is listed with `binding: undefined` so a
// check fails instead of guessing.

import type { DType } from '../../shared/graph/dtype.js';
import type { Graph, Node, Tensor } from '../../shared/graph/graph.js';

/** Where a constraint's dtype is read: input i, output i, or every present input / output. */
type Slot = number | `out${number}` | 'in*' | 'out*';

interface ConstraintBinding {
  readonly slots: readonly Slot[];
  /** Set for inputs the schema types as one fixed type (e.g. Reshape's shape: tensor(int64)). */
  readonly fixed?: DType;
}

type Binding = Readonly<Record<string, ConstraintBinding>>;

/** Schema versions of an op, newest last: the binding used is the last one with since <= opset. */
type Versions = readonly (readonly [since: number, binding: Binding])[];

const c = (...slots: Slot[]): ConstraintBinding => ({ slots });
const int64At = (slot: number): ConstraintBinding => ({ slots: [slot], fixed: 'int64' });

const unaryT: Versions = [[1, { T: c(0, 'out0') }]];
const binaryT: Versions = [[1, { T: c(0, 1, 'out0') }]];
const variadicT: Versions = [[1, { T: c('in*', 'out0') }]];
const compare: Versions = [[1, { T: c(0, 1), T1: c('out0') }]];
/** Squeeze / Unsqueeze: axes became an input in opset 13. */
const axesInput: Versions = [
  [1, { T: c(0, 'out0') }],
  [13, { T: c(0, 'out0'), axes: int64At(1) }],
];
/** ReduceMean / ReduceMax / ...: axes became an input in opset 18 (ReduceSum: 13). */
const reduceAxesSince = (since: number): Versions => [
  [1, { T: c(0, 'out0') }],
  [since, { T: c(0, 'out0'), axes: int64At(1) }],
];

export const OP_BINDINGS: Readonly<Record<string, Versions>> = {
  Abs: unaryT,
  Ceil: unaryT,
  Cos: unaryT,
  Erf: unaryT,
  Exp: unaryT,
  Floor: unaryT,
  Gelu: unaryT,
  Log: unaryT,
  Neg: unaryT,
  Reciprocal: unaryT,
  Relu: unaryT,
  Sigmoid: unaryT,
  Sign: unaryT,
  Sin: unaryT,
  Softmax: unaryT,
  Sqrt: unaryT,
  Tanh: unaryT,
  Transpose: unaryT,
  Identity: [
    [1, { T: c(0, 'out0') }],
    [14, { V: c(0, 'out0') }],
  ],
  Add: binaryT,
  Sub: binaryT,
  Mul: binaryT,
  Div: binaryT,
  MatMul: binaryT,
  Pow: [
    [1, { T: c(0, 1, 'out0') }],
    [12, { T: c(0, 'out0'), T1: c(1) }],
  ],
  Max: variadicT,
  Min: variadicT,
  Sum: variadicT,
  Concat: variadicT,
  Gemm: variadicT,
  Conv: variadicT,
  ConvTranspose: variadicT,
  Greater: compare,
  Less: compare,
  Equal: compare,
  GreaterOrEqual: compare,
  LessOrEqual: compare,
  Where: [[9, { B: c(0), T: c(1, 2, 'out0') }]],
  Cast: [[1, { T1: c(0), T2: c('out0') }]],
  LayerNormalization: [[17, { T: c(0, 1, 2, 'out0'), U: c('out1', 'out2') }]],
  Reshape: [
    [1, { T: c(0, 'out0') }],
    [5, { T: c(0, 'out0'), shape: int64At(1) }],
  ],
  Expand: [[8, { T: c(0, 'out0'), shape: int64At(1) }]],
  Slice: [
    [1, { T: c(0, 'out0') }],
    [10, { T: c(0, 'out0'), Tind: c(1, 2, 3, 4) }],
  ],
  Gather: [[1, { T: c(0, 'out0'), Tind: c(1) }]],
  Pad: [
    [2, { T: c(0, 'out0') }],
    [11, { T: c(0, 2, 'out0'), pads: int64At(1) }],
    [18, { T: c(0, 2, 'out0'), pads: int64At(1), Tind: c(3) }],
  ],
  Split: [
    [2, { T: c(0, 'out*') }],
    [13, { T: c(0, 'out*'), split: int64At(1) }],
  ],
  Squeeze: axesInput,
  Unsqueeze: axesInput,
  ReduceSum: reduceAxesSince(13),
  ReduceMean: reduceAxesSince(18),
  ReduceMax: reduceAxesSince(18),
  ReduceMin: reduceAxesSince(18),
};

/** One distinct (op, opset, dtypes) a graph emits. */
export interface InventoryEntry {
  readonly op: string;
  /** ONNX domain; '' is ai.onnx, the only one the graph engine emits. */
  readonly domain: string;
  readonly opset: number;
  /** Input dtypes by position (null: an omitted optional input). */
  readonly inputs: readonly (DType | null)[];
  readonly outputs: readonly DType[];
  /** Constraint name -> dtype; undefined when OP_BINDINGS has no binding for the op at this opset. */
  readonly binding: Readonly<Record<string, DType>> | undefined;
  /** Fixed-type constraints (name -> the schema's type), e.g. { shape: 'int64' } for Reshape. */
  readonly fixed: Readonly<Record<string, DType>>;
  /** Constraints bound to more than one dtype within a node (a schema violation), with the dtypes. */
  readonly conflicts: Readonly<Record<string, readonly DType[]>>;
  count: number;
  readonly nodes: string[];
}

function bindingFor(op: string, opset: number): Binding | undefined {
  let found: Binding | undefined;
  for (const [since, b] of OP_BINDINGS[op] ?? []) if (since <= opset) found = b;
  return found;
}

function slotTensors(node: Node, slot: Slot): (Tensor | null | undefined)[] {
  if (slot === 'in*') return [...node.inputs];
  if (slot === 'out*') return [...node.outputs];
  if (typeof slot === 'number') return [node.inputs[slot]];
  return [node.outputs[Number(slot.slice(3))]];
}

function bindNode(node: Node, binding: Binding): { types: Record<string, DType>; fixed: Record<string, DType>; conflicts: Record<string, DType[]> } {
  const types: Record<string, DType> = {};
  const fixed: Record<string, DType> = {};
  const conflicts: Record<string, DType[]> = {};
  for (const [name, cb] of Object.entries(binding)) {
    const seen = [...new Set(cb.slots.flatMap((s) => slotTensors(node, s)).flatMap((t) => (t ? [t.dtype] : [])))];
    if (seen.length === 0) continue; // an optional input or output the node does not use
    if (seen.length > 1) conflicts[name] = seen;
    types[name] = seen[0]!;
    if (cb.fixed) fixed[name] = cb.fixed;
  }
  return { types, fixed, conflicts };
}

/** Every distinct (op, opset, input/output dtypes) of the graph, in first-use order, with counts and node names. */
export function opInventory(graph: Graph): InventoryEntry[] {
  const byKey = new Map<string, InventoryEntry>();
  for (const node of graph.nodes) {
    const inputs = node.inputs.map((t) => t?.dtype ?? null);
    const outputs = node.outputs.map((t) => t.dtype);
    const key = `${node.op}|${graph.opset}|${inputs.join(',')}|${outputs.join(',')}`;
    const hit = byKey.get(key);
    if (hit) {
      hit.count++;
      hit.nodes.push(node.name);
      continue;
    }
    const b = bindingFor(node.op, graph.opset);
    const bound = b ? bindNode(node, b) : undefined;
    byKey.set(key, {
      op: node.op,
      domain: '',
      opset: graph.opset,
      inputs,
      outputs,
      binding: bound?.types,
      fixed: bound?.fixed ?? {},
      conflicts: bound?.conflicts ?? {},
      count: 1,
      nodes: [node.name],
    });
  }
  return [...byKey.values()];
}

/** Merges inventories of several graphs (same key: counts add up, node names are prefixed by the graph's label). */
export function mergeInventories(parts: readonly { label: string; inventory: readonly InventoryEntry[] }[]): (InventoryEntry & { graphs: string[] })[] {
  const byKey = new Map<string, InventoryEntry & { graphs: string[] }>();
  for (const { label, inventory } of parts) {
    for (const e of inventory) {
      const key = `${e.op}|${e.opset}|${e.inputs.join(',')}|${e.outputs.join(',')}`;
      const names = e.nodes.map((n) => `${label}:${n}`);
      const hit = byKey.get(key);
      if (hit) {
        hit.count += e.count;
        hit.nodes.push(...names);
        if (!hit.graphs.includes(label)) hit.graphs.push(label);
      } else {
        byKey.set(key, { ...e, nodes: names, graphs: [label] });
      }
    }
  }
  return [...byKey.values()];
}
