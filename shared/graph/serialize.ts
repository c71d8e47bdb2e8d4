// Graph -> ONNX ModelProto bytes. Large models keep their initializers as external data in a
// file beside the model (protobuf cannot exceed 2 GB; SAM ViT-H weights are 2.5 GB).

import { basename } from 'node:path';
import protobuf from 'protobufjs';
import { writeFileAtomic } from '../fs/atomic.js';
import { ONNX_DTYPE } from './dtype.js';
import type { AttrValue, Graph, Node, Tensor } from './graph.js';
import { ATTR_TYPE, ONNX_PROTO } from './onnx_schema.js';

const root = protobuf.parse(ONNX_PROTO, { keepCase: true }).root;
const ModelProto = root.lookupType('onnx.ModelProto');

const IR_VERSION = 8; // matches opset 17

export interface SaveOptions {
  /** Initializers of at least this many bytes go to external data when the model is large. */
  externalMinBytes?: number;
  /** Models whose initializers exceed this many bytes use external data (default 1 GiB). */
  externalThresholdBytes?: number;
}

function attribute(name: string, v: AttrValue): Record<string, unknown> {
  if ('i' in v) return { name, type: ATTR_TYPE.INT, i: v.i };
  if ('f' in v) return { name, type: ATTR_TYPE.FLOAT, f: v.f };
  if ('s' in v) return { name, type: ATTR_TYPE.STRING, s: Buffer.from(v.s, 'utf8') };
  if ('ints' in v) return { name, type: ATTR_TYPE.INTS, ints: [...v.ints] };
  return { name, type: ATTR_TYPE.FLOATS, floats: [...v.floats] };
}

function valueInfo(t: Tensor): Record<string, unknown> {
  const symbolic = t.graph.dimParams.get(t.name);
  const dim = t.shape.map((d, i) => {
    const param = symbolic?.get(i);
    return param === undefined ? { dim_value: d } : { dim_param: param };
  });
  return { name: t.name, type: { tensor_type: { elem_type: ONNX_DTYPE[t.dtype], shape: { dim } } } };
}

function bytesOf(data: ArrayBufferView): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * The nodes some graph output depends on, in creation order. Recomputed forward copies
 * (recompute.ts) end in values only their own backward reads; the rest of such a copy is dead.
 */
export function liveNodes(graph: Graph): Node[] {
  const needed = new Set<Tensor>(graph.outputs);
  const live: Node[] = [];
  for (let i = graph.nodes.length - 1; i >= 0; i--) {
    const n = graph.nodes[i]!;
    if (!n.outputs.some((o) => needed.has(o))) continue;
    live.push(n);
    for (const x of n.inputs) if (x) needed.add(x);
  }
  return live.reverse();
}

function modelMessage(graph: Graph, external?: { location: string; minBytes: number; chunks: Uint8Array[] }): Record<string, unknown> {
  let offset = 0;
  const initializer = [...graph.initializers.values()].map(({ tensor, data }) => {
    const base = { name: tensor.name, dims: [...tensor.shape], data_type: ONNX_DTYPE[tensor.dtype] };
    if (external && data.byteLength >= external.minBytes) {
      // ORT maps external data; keep each tensor 64-byte aligned.
      const padding = (64 - (offset % 64)) % 64;
      if (padding) external.chunks.push(new Uint8Array(padding));
      offset += padding;
      external.chunks.push(bytesOf(data));
      const entry = [
        { key: 'location', value: external.location },
        { key: 'offset', value: String(offset) },
        { key: 'length', value: String(data.byteLength) },
      ];
      offset += data.byteLength;
      return { ...base, data_location: 1, external_data: entry };
    }
    return { ...base, raw_data: bytesOf(data) };
  });
  const node = liveNodes(graph).map((n) => ({
    name: n.name,
    op_type: n.op,
    domain: '',
    input: n.inputs.map((x) => (x ? x.name : '')),
    output: n.outputs.map((o) => o.name),
    attribute: Object.entries(n.attrs).map(([k, v]) => attribute(k, v)),
  }));
  return {
    ir_version: IR_VERSION,
    producer_name: 'sam-lora',
    producer_version: '0.1.0',
    opset_import: [{ domain: '', version: graph.opset }],
    graph: {
      name: graph.name,
      node,
      initializer,
      input: graph.inputs.map(valueInfo),
      output: graph.outputs.map(valueInfo),
    },
  };
}

/** The whole model as one protobuf (initializers inline); for models under 2 GB. */
export function modelToBytes(graph: Graph): Uint8Array {
  const bytes = graph.initializerBytes();
  if (bytes > 1.9 * 2 ** 30) throw new Error(`graph ${graph.name}: ${bytes} bytes of weights exceed the protobuf limit; use saveModel() with external data`);
  return ModelProto.encode(ModelProto.fromObject(modelMessage(graph))).finish();
}

/**
 * Writes the model to `path`; when the weights are large, initializers go to `<path>.data` beside it
 * (ORT resolves the location relative to the model file, so load it by path). Both files are
 * written to temporaries and renamed, so a crash never leaves a half-written model.
 */
export function saveModel(graph: Graph, path: string, opts: SaveOptions = {}): { modelPath: string; dataPath?: string } {
  const threshold = opts.externalThresholdBytes ?? 2 ** 30;
  const useExternal = graph.initializerBytes() > threshold;
  const dataPath = `${path}.data`;
  const external = useExternal ? { location: basename(dataPath), minBytes: opts.externalMinBytes ?? 1024, chunks: [] as Uint8Array[] } : undefined;
  const proto = ModelProto.encode(ModelProto.fromObject(modelMessage(graph, external))).finish();
  if (external) writeFileAtomic(dataPath, external.chunks);
  writeFileAtomic(path, proto);
  return external ? { modelPath: path, dataPath } : { modelPath: path };
}
