// The inference-only ops (run-time shapes and sizes) against host references, and autodiff's
// refusal to differentiate through them.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { grad } from '../../shared/graph/autodiff.js';
import { Graph } from '../../shared/graph/graph.js';
import * as op from '../../shared/graph/ops/index.js';
import { argMax, floor, gatherAt, resizeLinear, shapeOf, sliceTo } from '../../shared/graph/ops/inference.js';
import { type Feed, type Fetched, GraphSession } from '../../shared/graph/runtime.js';
import { modelToBytes } from '../../shared/graph/serialize.js';
import { resizeBilinear2d } from '../../shared/sam/postprocess.js';
import { Rng } from '../helpers/rng.js';
import { relErr } from '../helpers/small_model.js';

async function run(g: Graph, feeds: Record<string, Feed>): Promise<Record<string, Fetched>> {
  const s = await GraphSession.create(modelToBytes(g), { intraOpThreads: 1 });
  try {
    return await s.run(feeds);
  } finally {
    await s.release();
  }
}

const int64 = (v: readonly number[]): Feed => ({ data: BigInt64Array.from(v.map(BigInt)), shape: [v.length], dtype: 'int64' });

describe('inference-only ops', () => {
  it('resizeLinear to run-time sizes is PyTorch bilinear (align_corners false), up, down and to 1 pixel', async () => {
    const rng = new Rng(2);
    const [h, w] = [7, 10];
    const x = Float32Array.from({ length: h * w }, () => rng.normal());
    const g = new Graph('resize');
    const xin = g.input('x', [1, 1, h, w]);
    g.output(resizeLinear(xin, g.input('sizes', [4], 'int64'), [1, 1, h, w]), 'y');
    for (const [oh, ow] of [[23, 5], [3, 17], [1, 1], [7, 10]] as const) {
      const r = await run(g, { x: { data: x, shape: [1, 1, h, w] }, sizes: int64([1, 1, oh, ow]) });
      assert.deepEqual(r.y!.shape, [1, 1, oh, ow]);
      const err = relErr(r.y!.data as Float32Array, resizeBilinear2d(x, h, w, oh, ow));
      assert.ok(err < 1e-6, `${oh}x${ow}: relative error ${err}`);
    }
  });

  it('sliceTo crops leading ranges whose ends are computed at run time', async () => {
    const g = new Graph('slice');
    const x = g.input('x', [1, 2, 4, 5]);
    const ends = op.cast(floor(op.add(g.input('e', [2]), 0.5)), 'int64');
    g.output(sliceTo(x, ends, [2, 3]), 'y');
    const data = Float32Array.from({ length: 40 }, (_, i) => i);
    const r = await run(g, { x: { data, shape: [1, 2, 4, 5] }, e: { data: Float32Array.from([2.4, 2.6]), shape: [2] } });
    assert.deepEqual(r.y!.shape, [1, 2, 2, 3]);
    assert.deepEqual(Array.from(r.y!.data as Float32Array), [0, 1, 2, 5, 6, 7, 20, 21, 22, 25, 26, 27]);
  });

  it('argMax takes the first maximum (torch.argmax), gatherAt picks by a run-time index, shapeOf reads the shape', async () => {
    const g = new Graph('select');
    const scores = g.input('s', [1, 4]);
    const values = g.input('v', [1, 4, 2]);
    const best = argMax(scores, 1);
    g.output(best, 'best');
    g.output(gatherAt(values, best, 1), 'picked');
    g.output(shapeOf(values), 'shape');
    const r = await run(g, {
      s: { data: Float32Array.from([0.5, 2, 2, -1]), shape: [1, 4] },
      v: { data: Float32Array.from([0, 1, 10, 11, 20, 21, 30, 31]), shape: [1, 4, 2] },
    });
    assert.deepEqual(Array.from(r.best!.data as BigInt64Array), [1n]);
    assert.deepEqual(r.picked!.shape, [1, 1, 2]);
    assert.deepEqual(Array.from(r.picked!.data as Float32Array), [10, 11]);
    assert.deepEqual(Array.from(r.shape!.data as BigInt64Array), [1n, 4n, 2n]);
  });

  it('autodiff refuses a path through an inference-only node, naming it', () => {
    const g = new Graph('nograd');
    const x = g.input('x', [3]);
    assert.throws(() => grad(op.reduceSum(floor(x)), [x]), /Floor node .* is inference-only/);
    const y = g.input('y', [1, 3]);
    const picked = gatherAt(y, argMax(y, 1), 1);
    assert.throws(() => grad(op.reduceSum(picked), [y]), /Gather node .* is inference-only/);
  });
});
