// The forward of op.resizeBilinear against two independent references: ORT's own Resize node
// (linear, half_pixel) and a direct JS port of PyTorch's F.interpolate(mode='bilinear',
// align_corners=False).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Graph, str } from '../../shared/graph/graph.js';
import * as op from '../../shared/graph/ops/index.js';
import { GraphSession } from '../../shared/graph/runtime.js';
import { modelToBytes } from '../../shared/graph/serialize.js';
import { numel } from '../../shared/tensor/host_tensor.js';
import { Rng } from '../helpers/rng.js';

/** PyTorch's source index for align_corners=False with an output size: in/out scale, clamped at 0. */
function sourceIndex(dst: number, inSize: number, outSize: number): { i0: number; i1: number; l1: number } {
  const src = Math.max(0, (dst + 0.5) * (inSize / outSize) - 0.5);
  const i0 = Math.floor(src);
  const i1 = Math.min(i0 + 1, inSize - 1);
  return { i0, i1, l1: src - i0 };
}

/** F.interpolate(x[..., H, W], size=[outH, outW], mode='bilinear', align_corners=False) in float64. */
function torchBilinear(x: ArrayLike<number>, shape: readonly number[], outH: number, outW: number): Float64Array {
  const [h, w] = shape.slice(-2) as [number, number];
  const planes = numel(shape.slice(0, -2));
  const out = new Float64Array(planes * outH * outW);
  for (let p = 0; p < planes; p++) {
    const base = p * h * w;
    for (let oy = 0; oy < outH; oy++) {
      const sy = sourceIndex(oy, h, outH);
      for (let ox = 0; ox < outW; ox++) {
        const sx = sourceIndex(ox, w, outW);
        const v = (yy: number, xx: number): number => x[base + yy * w + xx]!;
        const top = (1 - sx.l1) * v(sy.i0, sx.i0) + sx.l1 * v(sy.i0, sx.i1);
        const bottom = (1 - sx.l1) * v(sy.i1, sx.i0) + sx.l1 * v(sy.i1, sx.i1);
        out[p * outH * outW + oy * outW + ox] = (1 - sy.l1) * top + sy.l1 * bottom;
      }
    }
  }
  return out;
}

interface ResizeRun {
  ours: Float32Array;
  ort?: Float32Array;
  input: Float32Array;
}

/** Runs op.resizeBilinear and, when asked, ORT's Resize (by sizes or by scales) on the same input. */
async function runResize(shape: number[], outH: number, outW: number, ortMode?: 'sizes' | 'scales'): Promise<ResizeRun> {
  const g = new Graph('resize_check');
  const x = g.input('x', shape);
  const outShape = [...shape.slice(0, -2), outH, outW];
  g.output(op.resizeBilinear(x, outH, outW), 'ours');
  if (ortMode) {
    const attrs = { mode: str('linear'), coordinate_transformation_mode: str('half_pixel') };
    // ONNX Resize inputs: X, roi, scales, sizes (omitted ones are empty names).
    const inputs =
      ortMode === 'sizes'
        ? [x, null, null, g.constant(outShape, [outShape.length], 'int64')]
        : [x, null, g.constant(outShape.map((d, i) => d / shape[i]!), [outShape.length], 'float32')];
    const [y] = g.addNode('Resize', inputs, attrs, [{ shape: outShape, dtype: 'float32' }]);
    g.output(y!, 'ort');
  }
  const rng = new Rng(7);
  const input = Float32Array.from({ length: numel(shape) }, () => rng.next() * 2 - 1);
  const session = await GraphSession.create(modelToBytes(g), { intraOpThreads: 1 });
  const out = await session.run({ x: { data: input, shape } });
  await session.release();
  assert.deepEqual(out.ours!.shape, outShape);
  const res: ResizeRun = { ours: out.ours!.data as Float32Array, input };
  if (ortMode) {
    assert.deepEqual(out.ort!.shape, outShape);
    res.ort = out.ort!.data as Float32Array;
  }
  return res;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

const TOL = 1e-5; // float32 arithmetic on values in [-1, 1]

const cases: { name: string; shape: number[]; out: [number, number]; ort?: 'sizes' | 'scales' }[] = [
  { name: '1-D row upsample 256 -> 1024', shape: [1, 1, 1, 256], out: [1, 1024], ort: 'sizes' },
  { name: '1-D row downsample 1024 -> 773', shape: [1, 1, 1, 1024], out: [1, 773] },
  { name: '1-D column upsample 256 -> 1024', shape: [1, 1, 256, 1], out: [1024, 1], ort: 'scales' },
  { name: '1-D column downsample 1024 -> 773', shape: [1, 1, 1024, 1], out: [773, 1] },
  { name: '2-D upsample [1,2,4,5] -> [8,10]', shape: [1, 2, 4, 5], out: [8, 10], ort: 'sizes' },
  { name: '2-D upsample non-integer [2,3,5,4] -> [7,11]', shape: [2, 3, 5, 4], out: [7, 11], ort: 'sizes' },
  { name: '2-D upsample by scales [1,2,3,3] -> [6,12]', shape: [1, 2, 3, 3], out: [6, 12], ort: 'scales' },
  { name: '2-D downsample [1,2,9,10] -> [4,3]', shape: [1, 2, 9, 10], out: [4, 3] },
  { name: '2-D mixed [1,1,6,4] -> [4,9]', shape: [1, 1, 6, 4], out: [4, 9] },
];

for (const c of cases) {
  test(`resizeBilinear ${c.name}`, async () => {
    const r = await runResize(c.shape, c.out[0], c.out[1], c.ort);
    const ref = torchBilinear(r.input, c.shape, c.out[0], c.out[1]);
    const report: Record<string, unknown> = { name: c.name, maxAbsVsTorch: maxAbsDiff(r.ours, ref) };
    if (r.ort) report.maxAbsVsOrtResize = maxAbsDiff(r.ours, r.ort);
    console.log(JSON.stringify(report));
    assert.ok((report.maxAbsVsTorch as number) <= TOL, `${c.name}: differs from the PyTorch reference by ${report.maxAbsVsTorch}`);
    if (r.ort) assert.ok((report.maxAbsVsOrtResize as number) <= TOL, `${c.name}: differs from ORT Resize by ${report.maxAbsVsOrtResize}`);
  });
}

test('torch reference sanity: identity size and constant input', () => {
  const x = [1, 2, 3, 4, 5, 6];
  assert.deepEqual([...torchBilinear(x, [2, 3], 2, 3)], x);
  const ones = torchBilinear(new Array(20).fill(1), [4, 5], 7, 3);
  for (const v of ones) assert.ok(Math.abs(v - 1) < 1e-12);
  // 2 -> 4 upsample of [0, 1]: sources -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped to the edge).
  assert.deepEqual([...torchBilinear([0, 1], [1, 2], 1, 4)], [0, 0.25, 0.75, 1]);
});
