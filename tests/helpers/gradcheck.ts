// Checks the engine's gradients against central finite differences of the same ONNX graph.
// The scalar checked is f = sum(y * c) for a fixed random cotangent c, accumulated in float64 on
// the host, so the comparison exercises the full vector-Jacobian product of the rule.

import { vjp } from '../../shared/graph/autodiff.js';
import type { HostArray } from '../../shared/graph/dtype.js';
import { Graph, type Tensor } from '../../shared/graph/graph.js';
import { modelToBytes } from '../../shared/graph/serialize.js';
import { GraphSession, type Feed } from '../../shared/graph/runtime.js';
import { numel } from '../../shared/tensor/host_tensor.js';
import { Rng } from './rng.js';

export interface GradInput {
  name: string;
  shape: number[];
  /** Differentiate w.r.t. this input (default true). */
  grad?: boolean;
  /** Sample values from this range instead of [-1, 1] (e.g. positive for Log/Sqrt). */
  range?: [number, number];
  /** Fixed values instead of random ones. */
  values?: number[];
  dtype?: 'float32' | 'float64' | 'bool';
}

export interface GradCase {
  /** Shown in the report, e.g. "MatMul broadcast". */
  name: string;
  inputs: GradInput[];
  build: (xs: Tensor[]) => Tensor;
  /** float64 where ORT's CPU kernels take it (tighter check), else float32. */
  dtype?: 'float32' | 'float64';
  /** Elements checked per input at most (random subset); default 24. */
  samples?: number;
  seed?: number;
}

export interface GradReport {
  name: string;
  dtype: string;
  maxRelError: number;
  checked: number;
}

export const GRAD_TOLERANCE = { float64: 1e-6, float32: 1e-2 } as const;

function toArray(dtype: 'float32' | 'float64' | 'bool', values: number[]): HostArray {
  if (dtype === 'float64') return Float64Array.from(values);
  if (dtype === 'bool') return Uint8Array.from(values);
  return Float32Array.from(values);
}

export async function gradCheck(c: GradCase): Promise<GradReport> {
  const dtype = c.dtype ?? 'float64';
  const rng = new Rng(c.seed ?? 1234);
  const g = new Graph(`gradcheck_${c.name.replace(/\W+/g, '_')}`);
  const values = c.inputs.map((inp) => {
    if (inp.values) return [...inp.values];
    const [lo, hi] = inp.range ?? [-1, 1];
    return Array.from({ length: numel(inp.shape) }, () => (inp.dtype === 'bool' ? (rng.next() < 0.5 ? 1 : 0) : lo + (hi - lo) * rng.next()));
  });
  const xs = c.inputs.map((inp) => g.input(inp.name, inp.shape, inp.dtype ?? dtype));
  const y = c.build(xs);
  const cot = Array.from({ length: y.size }, () => rng.next() * 2 - 1);
  const cotT = g.input('cotangent', y.shape, dtype);
  const wrtIdx = c.inputs.map((inp, i) => (inp.grad === false || inp.dtype === 'bool' ? -1 : i)).filter((i) => i >= 0);
  const grads = vjp([y], [cotT], wrtIdx.map((i) => xs[i]!));
  g.output(y, 'y');
  grads.forEach((gr, k) => g.output(gr, `grad_${k}`));
  const session = await GraphSession.create(modelToBytes(g), { intraOpThreads: 1 });

  const feeds = (vals: number[][]): Record<string, Feed> => {
    const f: Record<string, Feed> = { cotangent: { data: toArray(dtype, cot), shape: y.shape } };
    c.inputs.forEach((inp, i) => (f[inp.name] = { data: toArray(inp.dtype ?? dtype, vals[i]!), shape: inp.shape, dtype: inp.dtype ?? dtype }));
    return f;
  };
  const objective = async (vals: number[][]): Promise<number> => {
    const out = await session.run(feeds(vals), ['y']);
    const yd = out.y!.data as Float32Array | Float64Array;
    let s = 0;
    for (let i = 0; i < yd.length; i++) s += yd[i]! * cot[i]!;
    return s;
  };

  const base = await session.run(feeds(values));
  const eps = dtype === 'float64' ? 1e-6 : 1e-2;
  let maxRel = 0;
  let checked = 0;
  for (let k = 0; k < wrtIdx.length; k++) {
    const i = wrtIdx[k]!;
    const analytic = base[`grad_${k}`]!.data as Float32Array | Float64Array;
    const n = values[i]!.length;
    const picks = n <= (c.samples ?? 24) ? [...Array(n).keys()] : rng.sample(n, c.samples ?? 24);
    const fd: number[] = [];
    for (const j of picks) {
      const plus = values.map((v) => [...v]);
      const minus = values.map((v) => [...v]);
      plus[i]![j]! += eps;
      minus[i]![j]! -= eps;
      fd.push(((await objective(plus)) - (await objective(minus))) / (2 * eps));
    }
    let scale = 1e-8;
    for (const v of analytic) scale = Math.max(scale, Math.abs(v));
    for (const v of fd) scale = Math.max(scale, Math.abs(v));
    picks.forEach((j, p) => (maxRel = Math.max(maxRel, Math.abs(fd[p]! - analytic[j]!) / scale)));
    checked += picks.length;
  }
  await session.release();
  return { name: c.name, dtype, maxRelError: maxRel, checked };
}
