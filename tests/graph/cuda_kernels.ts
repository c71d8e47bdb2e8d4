// CUDA kernels of onnxruntime for the ONNX ops our graphs emit (plus a few neighbours), and a
// lookup that tells whether an op_inventory entry would run on the CUDAExecutionProvider or fall
// back to the CPU.
//
// SOURCE. Transcribed by hand from onnxruntime's docs/OperatorKernels.md, section "Operators
// implemented by CUDAExecutionProvider", domain ai.onnx, as stored at
//   github.com/microsoft/onnxruntime  commit 001d12d2623fd411ce0f83d05abb5e82304a3389
//   https://github.com/microsoft/onnxruntime/blob/001d12d2623fd411ce0f83d05abb5e82304a3389/docs/OperatorKernels.md
// We run onnxruntime-node 1.29.0, whose libonnxruntime reports "git-commit-id=2e2543fbe9" (tag
// v1.29.0 = 2e2543fbe9fae542f921d47a72d21d5a4ef0b710); the file at that exact commit was not
// available to us, so the table is from the stored version above (its date relative to v1.29.0 is
// unknown; it lists CUDA kernels up to opset 24 and CPU kernels up to opset 25). Every entry our
// opset-17 graphs use (float / int64 shape inputs / bool) is also allowed in an older stored
// version (commit 8f063305aacd23aadf77cda4c52e0592a02a7161, CUDA kernels up to opset 19); the
// differences between the two are added types (bfloat16, int8/16...) and newer-opset rows. Replace
// the table with the v1.29.0 file when it can be read.
//
// REGENERATE BY HAND. Open docs/OperatorKernels.md at the onnxruntime tag you run
//   https://github.com/microsoft/onnxruntime/blob/v<version>/docs/OperatorKernels.md
// (or `git show v<version>:docs/OperatorKernels.md` in a clone), go to "Operators implemented by
// CUDAExecutionProvider", "Operator Domain: ai.onnx", and for every op listed below copy each row:
//   |Op|params|<range>|**T** = tensor(a), tensor(b)<br/> **T1** = tensor(c)|
// as [<range>, { T: 'a b', T1: 'c' }], keeping the ranges as written ("13+", "[11, 12]", "10") and
// the type names without "tensor(...)". Seq types of Identity's V are left out (we emit tensors
// only). Update CUDA_KERNELS_SOURCE, run the cuda_coverage test, and add rows for any op it reports
// as missing from the table.

import type { DType } from '../../shared/graph/dtype.js';
import type { InventoryEntry } from './op_inventory.js';

export const CUDA_KERNELS_SOURCE = {
  repo: 'microsoft/onnxruntime',
  path: 'docs/OperatorKernels.md',
  commit: '001d12d2623fd411ce0f83d05abb5e82304a3389',
  section: 'Operators implemented by CUDAExecutionProvider / Operator Domain: ai.onnx',
  runtime: 'onnxruntime-node 1.29.0 (tag v1.29.0 = 2e2543fbe9fae542f921d47a72d21d5a4ef0b710; not the table commit)',
} as const;

/** One row of the table: the opset range as written in the doc, and the allowed types per constraint. */
type Row = readonly [range: string, types: Readonly<Record<string, string>>];

// Type lists that recur verbatim in the doc.
const ALL = 'bfloat16 bool double float float16 int16 int32 int64 int8 uint16 uint32 uint64 uint8';
const ALL_F8 = 'bfloat16 bool double float float16 float8e4m3fn float8e4m3fnuz float8e5m2 float8e5m2fnuz int16 int32 int64 int8 uint16 uint32 uint64 uint8';
const ARITH14 = 'bfloat16 double float float16 int16 int32 int64 int8 uint16 uint32 uint64 uint8';
const ARITH13 = 'bfloat16 double float float16 int32 int64 uint32 uint64';
const ARITH7 = 'double float float16 int32 int64 uint32 uint64';
const FLOATS_BF = 'bfloat16 double float float16';
const FLOATS = 'double float float16';
const CAST_T2 = 'bfloat16 bool double float float16 float4e2m1 float8e4m3fn float8e5m2 int16 int32 int64 int8 uint16 uint32 uint64 uint8';
const CAST_T1_19 = 'bfloat16 bool double float float16 float8e4m3fn float8e5m2 int16 int32 int64 int8 uint16 uint32 uint64 uint8';
const CMP = 'double float float16 int32 int64 uint32 uint64';

const arith: readonly Row[] = [
  ['14+', { T: ARITH14 }],
  ['13', { T: ARITH13 }],
  ['[7, 12]', { T: ARITH7 }],
];
const floatUnary13: readonly Row[] = [
  ['13+', { T: FLOATS_BF }],
  ['[6, 12]', { T: FLOATS }],
];

export const CUDA_KERNELS: Readonly<Record<string, readonly Row[]>> = {
  Abs: [
    ['13+', { T: ARITH14 }],
    ['[6, 12]', { T: 'double float float16 int16 int32 int64 int8 uint16 uint32 uint64 uint8' }],
  ],
  Add: arith,
  Cast: [
    ['23+', { T1: CAST_T2, T2: CAST_T2 }],
    ['[21, 22]', { T1: CAST_T1_19, T2: CAST_T2 }],
    ['[19, 20]', { T1: CAST_T1_19, T2: CAST_T2 }],
    ['[13, 18]', { T1: ALL, T2: CAST_T2 }],
    ['[9, 12]', { T1: 'bool double float float16 int16 int32 int64 int8 uint16 uint32 uint64 uint8', T2: CAST_T2 }],
    ['[6, 8]', { T1: 'bool double float float16 int16 int32 int64 int8 uint16 uint32 uint64 uint8', T2: CAST_T2 }],
  ],
  Concat: [
    ['13+', { T: ALL }],
    ['[11, 12]', { T: ALL }],
    ['[4, 10]', { T: ALL }],
  ],
  Conv: [
    ['22+', { T: FLOATS_BF }],
    ['[11, 21]', { T: FLOATS }],
    ['[1, 10]', { T: FLOATS }],
  ],
  ConvTranspose: [
    ['11+', { T: FLOATS }],
    ['[1, 10]', { T: FLOATS }],
  ],
  Cos: [['7+', { T: FLOATS }]],
  Div: arith,
  Equal: [
    ['13+', { T: 'bool double float float16 int32 int64 uint32 uint64', T1: 'bool' }],
    ['[11, 12]', { T: 'bool double float float16 int32 int64 uint32 uint64' }],
    ['[7, 10]', { T: 'bool int32 int64' }],
  ],
  Erf: [
    ['13+', { T: FLOATS_BF }],
    ['[9, 12]', { T: FLOATS }],
  ],
  Exp: floatUnary13,
  Expand: [
    ['13+', { T: ALL }],
    ['[8, 12]', { T: ALL }],
  ],
  Gather: [
    ['13+', { T: ALL, Tind: 'int32 int64' }],
    ['[11, 12]', { T: ALL, Tind: 'int32 int64' }],
    ['[1, 10]', { T: ALL, Tind: 'int32 int64' }],
  ],
  Gelu: [['20+', { T: FLOATS_BF }]],
  Gemm: [
    ['13+', { T: FLOATS_BF }],
    ['[11, 12]', { T: FLOATS }],
    ['[9, 10]', { T: FLOATS }],
    ['[7, 8]', { T: FLOATS }],
  ],
  Greater: [
    ['13+', { T: CMP, T1: 'bool' }],
    ['[9, 12]', { T: CMP }],
    ['[7, 8]', { T: FLOATS }],
  ],
  GreaterOrEqual: [
    ['16+', { T: CMP, T1: 'bool' }],
    ['[12, 15]', { T: CMP, T1: 'bool' }],
  ],
  Identity: [
    ['19+', { V: ALL_F8 }], // + seq(...) types, left out
    ['[14, 18]', { V: ALL }], // + seq(...) types, left out
    ['13', { T: ALL }],
    ['[1, 12]', { T: ALL }],
  ],
  LayerNormalization: [
    ['17+', { T: FLOATS_BF, U: 'float' }],
    ['[1, 16]', { T: FLOATS_BF, U: 'double float', V: FLOATS_BF }],
  ],
  Less: [
    ['13+', { T: CMP, T1: 'bool' }],
    ['[9, 12]', { T: CMP }],
    ['[7, 8]', { T: FLOATS }],
  ],
  LessOrEqual: [
    ['16+', { T: CMP, T1: 'bool' }],
    ['[12, 15]', { T: CMP, T1: 'bool' }],
  ],
  Log: [
    ['13+', { T: FLOATS }],
    ['[6, 12]', { T: FLOATS }],
  ],
  MatMul: [
    ['13+', { T: FLOATS_BF }],
    ['[9, 12]', { T: FLOATS }],
    ['[1, 8]', { T: FLOATS }],
  ],
  Max: [
    ['13+', { T: ARITH13 }],
    ['12', { T: ARITH13 }],
    ['[6, 11]', { T: FLOATS_BF }],
  ],
  Min: [
    ['13+', { T: ARITH13 }],
    ['12', { T: ARITH13 }],
    ['[6, 11]', { T: FLOATS_BF }],
  ],
  Mul: arith,
  Neg: [
    ['13+', { T: 'bfloat16 double float float16 int16 int32 int64 int8' }],
    ['[6, 12]', { T: 'double float float16 int16 int32 int64 int8' }],
  ],
  Pad: [
    ['18+', { T: 'bool double float float16' }],
    ['[13, 17]', { T: 'bool double float float16' }],
    ['[11, 12]', { T: FLOATS }],
    ['[2, 10]', { T: FLOATS }],
  ],
  Pow: [
    ['15+', { T: 'bfloat16 double float float16 int32 int64', T1: 'bfloat16 double float float16 int32 int64' }],
    ['[13, 14]', { T: 'bfloat16 double float float16 int32 int64', T1: 'double float float16 int32 int64' }],
    ['12', { T: 'double float float16 int32 int64', T1: 'double float float16 int32 int64' }],
    ['[7, 11]', { T: FLOATS }],
  ],
  Reciprocal: [
    ['13+', { T: FLOATS }],
    ['[6, 12]', { T: FLOATS }],
  ],
  ReduceMax: [
    ['18+', { T: 'double float float16 int32 int64' }],
    ['[1, 17]', { T: 'double float float16 int32 int64' }],
  ],
  ReduceMean: [
    ['18+', { T: 'double float float16 int32' }],
    ['[1, 17]', { T: 'double float float16 int32' }],
  ],
  ReduceMin: [
    ['18+', { T: 'double float float16 int32 int64 int8 uint8' }],
    ['[1, 17]', { T: 'double float float16 int32 int64 int8 uint8' }],
  ],
  ReduceSum: [
    ['13+', { T: 'bfloat16 double float float16 int32 int64' }],
    ['[1, 12]', { T: 'double float float16 int32 int64' }],
  ],
  Relu: [
    ['14+', { T: FLOATS_BF }],
    ['13', { T: FLOATS_BF }],
    ['[6, 12]', { T: FLOATS }],
  ],
  Reshape: [
    ['23+', { T: ALL_F8, shape: 'int64' }],
    ['[21, 22]', { T: ALL_F8, shape: 'int64' }],
    ['[19, 20]', { T: ALL_F8, shape: 'int64' }],
    ['[14, 18]', { T: ALL, shape: 'int64' }],
    ['13', { T: ALL, shape: 'int64' }],
    ['[5, 12]', { T: ALL, shape: 'int64' }],
    ['[1, 4]', { T: ALL }],
  ],
  Resize: [
    ['19+', { T1: 'double float float16 int32 uint8' }],
    ['18', { T1: 'double float float16 int32 uint8' }],
    ['[13, 17]', { T1: 'double float float16 int32 uint8' }],
    ['[11, 12]', { T1: 'double float float16 int32 uint8' }],
    ['10', { T: 'double float float16 int32 uint8' }],
  ],
  Sigmoid: floatUnary13,
  Sign: [['13+', { T: ARITH14 }]],
  Sin: [['7+', { T: FLOATS }]],
  Slice: [
    ['13+', { T: ALL, Tind: 'int32 int64' }],
    ['[11, 12]', { T: ALL, Tind: 'int32 int64' }],
    ['10', { T: ALL, Tind: 'int32 int64' }],
    ['[1, 9]', { T: ALL }],
  ],
  Softmax: [
    ['13+', { T: FLOATS_BF }],
    ['[11, 12]', { T: FLOATS }],
    ['[1, 10]', { T: FLOATS }],
  ],
  Split: [
    ['18+', { T: ALL }],
    ['[13, 17]', { T: ALL }],
    ['[11, 12]', { T: ALL }],
    ['[2, 10]', { T: ALL }],
  ],
  Sqrt: floatUnary13,
  Squeeze: [
    ['23+', { T: ALL }],
    ['[21, 22]', { T: ALL }],
    ['[13, 20]', { T: ALL }],
    ['[11, 12]', { T: ALL }],
    ['[1, 10]', { T: ALL }],
  ],
  Sub: arith,
  Sum: [
    ['13+', { T: FLOATS_BF }],
    ['[8, 12]', { T: FLOATS_BF }],
    ['[6, 7]', { T: FLOATS_BF }],
  ],
  Tanh: floatUnary13,
  Transpose: [
    ['23+', { T: ALL }],
    ['[21, 22]', { T: ALL }],
    ['[13, 20]', { T: ALL }],
    ['[1, 12]', { T: ALL }],
  ],
  Unsqueeze: [
    ['23+', { T: ALL }],
    ['[21, 22]', { T: ALL }],
    ['[13, 20]', { T: ALL }],
    ['[11, 12]', { T: ALL }],
    ['[1, 10]', { T: ALL }],
  ],
  Where: [
    ['16+', { B: 'bool', T: 'bfloat16 double float float16 int32 int64 uint8' }],
    ['[9, 15]', { B: 'bool', T: 'double float float16 int32 int64 uint8' }],
  ],
};

/** The ONNX tensor element type name the doc uses for each of our dtypes. */
export const ONNX_TYPE_NAME: Readonly<Record<DType, string>> = {
  float32: 'float',
  float64: 'double',
  float16: 'float16',
  int64: 'int64',
  int32: 'int32',
  bool: 'bool',
  uint8: 'uint8',
};

export interface CudaKernel {
  readonly op: string;
  /** The range as written in the doc ("13+", "[11, 12]", "10"). */
  readonly range: string;
  readonly from: number;
  /** Inclusive; Infinity for an open range ("13+"). */
  readonly to: number;
  readonly types: Readonly<Record<string, ReadonlySet<string>>>;
}

/** Parses "13+", "[11, 12]" or "10" into an inclusive [from, to]. */
export function parseRange(range: string): [number, number] {
  const open = /^(\d+)\+$/.exec(range);
  if (open) return [Number(open[1]), Infinity];
  const closed = /^\[(\d+), (\d+)\]$/.exec(range);
  if (closed) return [Number(closed[1]), Number(closed[2])];
  const single = /^(\d+)$/.exec(range);
  if (single) return [Number(single[1]), Number(single[1])];
  throw new Error(`cuda_kernels: bad opset range "${range}"`);
}

/**
 * The CUDA kernel registered for an ai.onnx op at a model opset, or undefined when there is none
 * (the op is not in the table, or no range of it contains the opset).
 */
export function cudaKernel(op: string, opset: number, domain = ''): CudaKernel | undefined {
  if (domain !== '' && domain !== 'ai.onnx') return undefined;
  for (const [range, types] of CUDA_KERNELS[op] ?? []) {
    const [from, to] = parseRange(range);
    if (opset >= from && opset <= to) {
      const sets: Record<string, ReadonlySet<string>> = {};
      for (const [k, v] of Object.entries(types)) sets[k] = new Set(v.split(' '));
      return { op, range, from, to, types: sets };
    }
  }
  return undefined;
}

/** Why an inventory entry would not run on CUDA; empty when it would. */
export function cudaProblems(e: InventoryEntry): string[] {
  const problems: string[] = [];
  if (e.domain !== '' && e.domain !== 'ai.onnx') return [`domain "${e.domain}" is not covered by the table`];
  if (!CUDA_KERNELS[e.op]) return [`no CUDA kernel for ${e.op} (op not in the CUDAExecutionProvider table)`];
  const k = cudaKernel(e.op, e.opset, e.domain);
  if (!k) return [`no CUDA kernel for ${e.op} at opset ${e.opset} (registered ranges: ${CUDA_KERNELS[e.op]!.map((r) => r[0]).join(', ')})`];
  if (!e.binding) return [`op_inventory has no type-constraint binding for ${e.op} at opset ${e.opset}`];
  for (const [name, dtypes] of Object.entries(e.conflicts)) {
    problems.push(`constraint ${name} bound to several dtypes (${dtypes.join(', ')}): invalid for the ONNX schema`);
  }
  for (const [name, dtype] of Object.entries(e.binding)) {
    const t = ONNX_TYPE_NAME[dtype];
    const allowed = k.types[name];
    if (allowed) {
      if (!allowed.has(t)) problems.push(`${name} = ${t} not in the CUDA kernel ${e.op} ${k.range} (${name} = ${[...allowed].join(', ')})`);
    } else if (e.fixed[name]) {
      // A fixed-type input the doc shows only in the parameter column: the schema's type is the kernel's.
      if (e.fixed[name] !== dtype) problems.push(`${name} = ${t}, but the ONNX schema of ${e.op} fixes it to ${ONNX_TYPE_NAME[e.fixed[name]!]}`);
    } else {
      problems.push(`constraint ${name} (= ${t}) is not listed for the CUDA kernel ${e.op} ${k.range} (it lists ${Object.keys(k.types).join(', ')})`);
    }
  }
  return problems;
}

/**
 * Attribute conditions under which the CUDA EP's GetCapability sends a node with a registered
 * kernel to the CPU anyway (onnxruntime/core/providers/cuda/cuda_execution_provider.cc:
 * ConvTransposeNeedFallbackToCPU, CastNeedFallbackToCPU). Read at stored commit
 * 0018ddb68e9b056d3f66ff51b084cf9ca7b6e948; newer versions may have fewer.
 */
export function cudaAttributeFallback(op: string, attrs: Readonly<Record<string, unknown>>): string | undefined {
  if (op === 'ConvTranspose') {
    const pads = (attrs['pads'] as { ints?: readonly number[] } | undefined)?.ints;
    if (pads) {
      const rank = pads.length / 2;
      for (let i = 0; i < rank; i++) if (pads[i] !== pads[i + rank]) return `ConvTranspose with asymmetric pads [${pads.join(', ')}]`;
    }
    const autoPad = (attrs['auto_pad'] as { s?: string } | undefined)?.s;
    if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') return `ConvTranspose with auto_pad ${autoPad}`;
  }
  if (op === 'Cast') {
    const to = (attrs['to'] as { i?: number } | undefined)?.i;
    if (to === 8) return 'Cast to string';
  }
  return undefined;
}
