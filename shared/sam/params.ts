// Binds checkpoint tensors to a graph: frozen weights become initializers (shared, not copied),
// trainable ones become graph inputs so their gradients can be graph outputs.

import { type Graph, type Tensor } from '../graph/graph.js';
import { fmt, sameShape } from '../graph/shape.js';
import type { HostTensor } from '../tensor/host_tensor.js';

export type StateDict = ReadonlyMap<string, HostTensor>;

export class ParamBinder {
  private readonly bound = new Map<string, Tensor>();
  private readonly trainableBound: { key: string; tensor: Tensor }[] = [];

  constructor(
    readonly graph: Graph,
    readonly state: StateDict,
    /** Keys fed as inputs (trained) instead of stored as initializers (frozen). */
    readonly trainable: ReadonlySet<string> = new Set(),
  ) {}

  /** The tensor for a checkpoint key, created once per graph. */
  get(key: string, expectShape?: readonly number[]): Tensor {
    const hit = this.bound.get(key);
    if (hit) return hit;
    const host = this.state.get(key);
    if (!host) throw new Error(`weights: missing tensor "${key}"`);
    if (expectShape && !sameShape(host.shape, expectShape)) {
      throw new Error(`weights: "${key}" has shape ${fmt(host.shape)}, the model needs ${fmt(expectShape)}`);
    }
    let t: Tensor;
    if (this.trainable.has(key)) {
      t = this.graph.input(key, host.shape, 'float32');
      this.trainableBound.push({ key, tensor: t });
    } else {
      t = this.graph.initializer(key, host.shape, host.data, 'float32');
    }
    this.bound.set(key, t);
    return t;
  }

  /** Trainable tensors bound so far, in binding order. */
  get trainableInputs(): readonly { key: string; tensor: Tensor }[] {
    return this.trainableBound;
  }
}
