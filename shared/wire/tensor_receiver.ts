// The receiving end of a header's tensors (WeightsHeader, StepResultHeader), in either form the
// protocol allows: TensorChunk messages per tensor, or PackedTensors (what this build sends). The
// first data message decides the form; the other form after it is refused.

import type { PackedTensors, TensorChunk, TensorInfo } from './messages.js';
import { PackedAssembler, type PackedAssemblerOptions } from './packed_tensors.js';
import { type AssembledTensor, type TensorEncoding, TensorAssembler, TensorWireError } from './tensor_codec.js';

export interface TensorReceiverOptions {
  /** The only tensors accepted, with their shapes (default: the header's own list). */
  expected?: ReadonlyMap<string, readonly number[]>;
  rejectNonFinite?: boolean;
  /** Accept only this encoding. */
  encoding?: TensorEncoding;
  /** Arrays to decode into, by name. */
  targets?: ReadonlyMap<string, Float32Array>;
}

export type TensorMessage = { kind: 'tensor'; tensor: TensorChunk } | { kind: 'packed'; packed: PackedTensors };

export class TensorReceiver {
  private perTensor?: TensorAssembler;
  private packed?: PackedAssembler;
  /** Payload bytes accepted so far (metrics). */
  bytes = 0;

  /** `layout` is the header's list; its names and shapes are checked when the first data arrives. */
  constructor(
    private readonly layout: readonly TensorInfo[],
    private readonly o: TensorReceiverOptions = {},
  ) {}

  /**
   * What either assembler is given. The allow-list (names, shapes and with them the byte budget) is
   * the caller's, else the header's own.
   */
  private assemblerOptions(): PackedAssemblerOptions & { expected: ReadonlyMap<string, readonly number[]> } {
    return {
      expected: this.o.expected ?? new Map(this.layout.map((t) => [t.name, t.shape])),
      ...(this.o.rejectNonFinite !== undefined ? { rejectNonFinite: this.o.rejectNonFinite } : {}),
      ...(this.o.encoding ? { encoding: this.o.encoding } : {}),
      ...(this.o.targets ? { targets: this.o.targets } : {}),
    };
  }

  /** Every announced tensor arrived. */
  get complete(): boolean {
    if (this.layout.length === 0) return true;
    if (this.packed) return this.packed.complete;
    return this.perTensor !== undefined && this.perTensor.completed.size === this.layout.length;
  }

  /** Accepts the next data message. Throws TensorWireError. */
  push(m: TensorMessage): void {
    if (m.kind === 'tensor') {
      if (this.packed) throw new TensorWireError('INTERLEAVED', 'a per-tensor chunk among packed ones', m.tensor.name);
      this.perTensor ??= new TensorAssembler(this.assemblerOptions());
      this.perTensor.push(m.tensor);
      this.bytes += m.tensor.data.length;
      return;
    }
    if (this.perTensor) throw new TensorWireError('INTERLEAVED', 'a packed chunk among per-tensor ones');
    this.packed ??= new PackedAssembler(this.layout, this.assemblerOptions());
    this.packed.push(m.packed);
    this.bytes += m.packed.data.length;
  }

  /** The tensors; throws TensorWireError when something is missing. */
  finish(): Map<string, AssembledTensor> {
    if (this.packed) return this.packed.finish();
    if (this.perTensor) return this.perTensor.finish();
    if (this.layout.length === 0) return new Map();
    throw new TensorWireError('MISSING_TENSOR', `none of the ${this.layout.length} announced tensor(s) arrived`);
  }
}
