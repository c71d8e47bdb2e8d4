// The weights message sequence of one version (header + tensor chunks), serialized once and written
// to every worker's session, with the two hashes the step results are checked against. Every worker
// gets the same bytes, so encoding and hashing them once per version instead of once per worker
// takes most of the broadcast's CPU cost away (bench/comm_overhead.ts).

import { bfloat16BitsToFloat32, float32ToBfloat16Bits } from '../../shared/tensor/dtype_codec.js';
import { versionHash, weightsHash } from '../../shared/tensor/weights_hash.js';
import type * as pb from '../../shared/wire/messages.js';
import type { PreEncodedMessage } from '../../shared/wire/pre_encoded.js';
import { packedTensorMessages } from '../../shared/wire/packed_tensors.js';
import { type TensorEncoding, elementBytes, tensorInfos } from '../../shared/wire/tensor_codec.js';

export interface EncodedWeights {
  version: number;
  messages: PreEncodedMessage[];
  /** Tensor payload bytes (what a worker receives, headers excluded). */
  payloadBytes: number;
  /** weightsHash of the coordinator's float32 weights. */
  ownHash: string;
  /** weightsHash of the weights as a worker decodes them (differs from ownHash with bf16). */
  wireHash: string;
}

export interface WeightsBroadcastOptions {
  trainable: ReadonlyMap<string, readonly number[]>;
  encoding: TensorEncoding;
  chunkBytes: number;
  /** Serializes one coordinator message (proto_loader's encodeCoordinatorMessage). */
  encode: (m: pb.CoordinatorMessageOut) => PreEncodedMessage;
}

export class WeightsBroadcast {
  private last?: { params: ReadonlyMap<string, Float32Array>; encoded: EncodedWeights };

  constructor(private readonly o: WeightsBroadcastOptions) {}

  /** The encoded messages of `version`; built on the first call for a version, reused after. */
  encoded(version: number, params: ReadonlyMap<string, Float32Array>): EncodedWeights {
    // Keyed by version and the map's identity: the trainer updates its arrays in place and bumps
    // the version each time, so a version names one set of values.
    if (this.last && this.last.encoded.version === version && this.last.params === params) return this.last.encoded;
    const tensors = new Map([...params].map(([k, v]) => [k, { shape: this.o.trainable.get(k) ?? [v.length], data: v }]));
    const messages = [
      this.o.encode({ weights: { version, tensors: tensorInfos(tensors) } }),
      ...packedTensorMessages(tensors, { encoding: this.o.encoding, maxChunkBytes: this.o.chunkBytes, envelope: 'coordinator_message' }),
    ];
    let payloadBytes = 0;
    for (const v of params.values()) payloadBytes += v.length * elementBytes(this.o.encoding);
    const ownHash = versionHash(params, version);
    const wireHash = this.o.encoding === 'bf16' ? weightsHash(new Map([...params].map(([k, v]) => [k, roundToBf16(v)]))) : ownHash;
    const encoded = { version, messages, payloadBytes, ownHash, wireHash };
    this.last = { params, encoded };
    return encoded;
  }
}

function roundToBf16(v: Float32Array): Float32Array {
  const out = new Float32Array(v.length);
  for (let i = 0; i < v.length; i++) out[i] = bfloat16BitsToFloat32(float32ToBfloat16Bits(v[i]!));
  return out;
}
