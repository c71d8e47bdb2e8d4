// The symbolic graph: tensors with static shapes, the nodes that produce them, named inputs,
// outputs and initializers. Ops (ops/*.ts) append nodes; autodiff walks them backward.

import { type DType, type HostArray, DTYPE_BYTES, hostArrayFromNumbers } from './dtype.js';
import { type Shape, ShapeError, fmt } from './shape.js';
import { numel } from '../tensor/host_tensor.js';

/** An ONNX attribute value, tagged so ints and floats stay distinct on the wire. */
export type AttrValue =
  | { readonly i: number }
  | { readonly f: number }
  | { readonly s: string }
  | { readonly ints: readonly number[] }
  | { readonly floats: readonly number[] };

export const int = (i: number): AttrValue => ({ i });
export const float = (f: number): AttrValue => ({ f });
export const ints = (v: readonly number[]): AttrValue => ({ ints: v });
export const floats = (v: readonly number[]): AttrValue => ({ floats: v });
export const str = (s: string): AttrValue => ({ s });

export type Attrs = Readonly<Record<string, AttrValue>>;

/** A value in the graph: a graph input, an initializer or a node output. */
export class Tensor {
  constructor(
    readonly graph: Graph,
    readonly name: string,
    readonly shape: Shape,
    readonly dtype: DType,
    /** The node that computes this tensor; undefined for inputs and initializers. */
    readonly producer?: Node,
  ) {}

  get rank(): number {
    return this.shape.length;
  }

  get size(): number {
    return numel(this.shape);
  }

  toString(): string {
    return `${this.name}${fmt(this.shape)}:${this.dtype}`;
  }
}

export interface Node {
  readonly id: number;
  readonly op: string;
  readonly name: string;
  /** null marks an omitted optional input (an empty name in ONNX). */
  readonly inputs: readonly (Tensor | null)[];
  readonly outputs: readonly Tensor[];
  readonly attrs: Attrs;
  /** Build-time facts a gradient rule needs (e.g. slice bounds), never serialised. */
  readonly meta: Readonly<Record<string, unknown>>;
}

export interface Initializer {
  readonly tensor: Tensor;
  readonly data: HostArray;
}

export interface OutputSpec {
  shape: Shape;
  dtype: DType;
}

/**
 * A group of nodes differentiated as one op by its own rule (e.g. GELU): the backward pass then
 * needs only the group's inputs, so its inner intermediates are freed after the forward pass.
 */
export interface Composite {
  readonly name: string;
  readonly inputs: readonly Tensor[];
  readonly output: Tensor;
  /** Ids of the nodes the forward emitted. */
  readonly nodeIds: ReadonlySet<number>;
  readonly grad: (inputs: readonly Tensor[], output: Tensor, dOut: Tensor, needs: readonly boolean[]) => readonly (Tensor | undefined)[];
}

export class Graph {
  readonly nodes: Node[] = [];
  readonly composites: Composite[] = [];
  readonly inputs: Tensor[] = [];
  readonly outputs: Tensor[] = [];
  readonly initializers = new Map<string, Initializer>();
  private readonly used = new Set<string>();
  private readonly counters = new Map<string, number>();
  private readonly constCache = new Map<string, Tensor>();
  /**
   * Symbolic dims of graph inputs and outputs, by tensor name and axis (written as ONNX dim_param).
   * Only exported inference graphs use them (dynamic_dim.ts); the tensors keep a static placeholder.
   */
  readonly dimParams = new Map<string, ReadonlyMap<number, string>>();

  constructor(
    readonly name = 'graph',
    readonly opset = 17,
  ) {}

  /** A fresh tensor name with the given prefix. */
  uniqueName(prefix: string): string {
    let n = this.counters.get(prefix) ?? 0;
    let name = `${prefix}_${n}`;
    while (this.used.has(name)) name = `${prefix}_${++n}`;
    this.counters.set(prefix, n + 1);
    return name;
  }

  private claim(name: string): string {
    if (this.used.has(name)) throw new Error(`graph ${this.name}: duplicate tensor name "${name}"`);
    this.used.add(name);
    return name;
  }

  /** A named graph input (fed at run time). */
  input(name: string, shape: Shape, dtype: DType = 'float32'): Tensor {
    checkShape('input', name, shape);
    const t = new Tensor(this, this.claim(name), [...shape], dtype);
    this.inputs.push(t);
    return t;
  }

  /** A frozen tensor stored in the model (weights). */
  initializer(name: string, shape: Shape, data: HostArray, dtype: DType = 'float32'): Tensor {
    checkShape('initializer', name, shape);
    const expectBytes = numel(shape) * DTYPE_BYTES[dtype];
    if (data.byteLength !== expectBytes) {
      throw new ShapeError('initializer', `${name}: ${data.byteLength} bytes of data for shape ${fmt(shape)} ${dtype} (want ${expectBytes})`);
    }
    const t = new Tensor(this, this.claim(name), [...shape], dtype);
    this.initializers.set(t.name, { tensor: t, data });
    return t;
  }

  /** A small constant; identical constants are shared. */
  constant(values: ArrayLike<number>, shape: Shape, dtype: DType = 'float32'): Tensor {
    if (values.length !== numel(shape)) {
      throw new ShapeError('constant', `${values.length} values for shape ${fmt(shape)}`);
    }
    const small = values.length <= 64;
    const key = small ? `${dtype}|${shape.join(',')}|${Array.from(values).join(',')}` : '';
    const hit = small ? this.constCache.get(key) : undefined;
    if (hit) return hit;
    const t = this.initializer(this.uniqueName('const'), shape, hostArrayFromNumbers(dtype, values), dtype);
    if (small) this.constCache.set(key, t);
    return t;
  }

  scalar(value: number, dtype: DType = 'float32'): Tensor {
    return this.constant([value], [], dtype);
  }

  /** Marks a tensor as a graph output under the given name (an Identity node renames it if needed). */
  output(t: Tensor, name: string): Tensor {
    let out = t;
    if (t.name !== name) {
      [out] = this.addNode('Identity', [t], {}, [{ shape: t.shape, dtype: t.dtype }], {}, name);
    }
    this.outputs.push(out!);
    return out!;
  }

  /** Appends one node; shapes of the outputs are computed by the caller (the op builder). */
  addNode(op: string, inputs: readonly (Tensor | null)[], attrs: Attrs, outputs: readonly OutputSpec[], meta: Record<string, unknown> = {}, outputName?: string): Tensor[] {
    for (const x of inputs) {
      if (x && x.graph !== this) throw new Error(`${op}: input ${x.name} belongs to another graph`);
    }
    const id = this.nodes.length;
    const name = this.uniqueName(op);
    const outs: Tensor[] = [];
    const node: Node = { id, op, name, inputs: [...inputs], outputs: outs, attrs, meta };
    outputs.forEach((spec, k) => {
      checkShape(op, name, spec.shape);
      const outName = outputName && k === 0 ? this.claim(outputName) : this.claim(`${name}_out${k}`);
      outs.push(new Tensor(this, outName, [...spec.shape], spec.dtype, node));
    });
    this.nodes.push(node);
    return outs;
  }

  /** Builds `forward` on `inputs` and registers its nodes as one composite with rule `grad`. */
  composite(name: string, inputs: readonly Tensor[], forward: (xs: readonly Tensor[]) => Tensor, grad: Composite['grad']): Tensor {
    const first = this.nodes.length;
    const output = forward(inputs);
    const nodeIds = new Set(this.nodes.slice(first).map((n) => n.id));
    if (!output.producer || !nodeIds.has(output.producer.id)) throw new Error(`composite ${name}: the output must be computed by the composite's own nodes`);
    this.composites.push({ name, inputs, output, nodeIds, grad });
    return output;
  }

  /** Declares axes of an input or output symbolic: ONNX dim_param names instead of the static sizes. */
  symbolicDims(t: Tensor, dims: Readonly<Record<number, string>>): void {
    const m = new Map(this.dimParams.get(t.name) ?? []);
    for (const [axis, name] of Object.entries(dims)) {
      const a = Number(axis);
      if (!Number.isInteger(a) || a < 0 || a >= t.rank) throw new ShapeError('symbolicDims', `${t.name}${fmt(t.shape)}: no axis ${axis}`);
      m.set(a, name);
    }
    this.dimParams.set(t.name, m);
  }

  /** Total bytes of initializer data (decides inline vs external data on save). */
  initializerBytes(): number {
    let n = 0;
    for (const init of this.initializers.values()) n += init.data.byteLength;
    return n;
  }
}

function checkShape(op: string, name: string, shape: Shape): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new ShapeError(op, `${name}: invalid static shape ${fmt(shape)}`);
  }
}
