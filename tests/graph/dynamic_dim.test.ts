// generalizeDim: a static-shape graph made to run at any size of one dimension, and the graphs it
// must refuse (where the size enters anything but I/O dims and Reshape targets).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import * as ort from 'onnxruntime-node';
import { generalizeDim } from '../../shared/graph/dynamic_dim.js';
import { Graph } from '../../shared/graph/graph.js';
import * as op from '../../shared/graph/ops/index.js';
import { modelToBytes } from '../../shared/graph/serialize.js';

const W = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]); // [4, 3]

/** x [1, n, 4] -> tokens (two fixed ones + the n inputs) through a linear layer -> y [1, n + 2, 3]. */
function tokenGraph(n: number): Graph {
  const g = new Graph('tokens');
  const x = g.input('x', [1, n, 4]);
  const all = op.concat([g.constant(new Array<number>(8).fill(1), [1, 2, 4]), x], 1);
  const rows = op.gemm(op.reshape(all, [-1, 4]), g.constant(W, [4, 3]));
  const y = op.softmax(op.reshape(rows, [1, n + 2, 3]), 1);
  g.output(op.reduceSum(y, [1]), 'summed'); // [1, 3]: no dim follows n
  g.output(op.reshape(x, [n, 4]), 'flat');
  return g;
}

describe('generalizeDim', () => {
  it('makes the size symbolic in the inputs and the Reshape targets, so the model runs at any size', async () => {
    const graph = generalizeDim(tokenGraph, 'n');
    const session = await ort.InferenceSession.create(modelToBytes(graph));
    try {
      const shapes = session.inputMetadata.map((m) => (m.isTensor ? m.shape : []));
      assert.deepEqual(shapes, [[1, 'n', 4]]);
      assert.deepEqual(
        session.outputMetadata.map((m) => (m.isTensor ? m.shape : [])),
        [[1, 3], ['n', 4]],
      );
      for (const n of [1, 2, 7]) {
        const x = Float32Array.from({ length: n * 4 }, (_, i) => (i % 5) / 5);
        const r = await session.run({ x: new ort.Tensor('float32', x, [1, n, 4]) });
        // The same graph built statically at this size is the reference.
        const ref = await ort.InferenceSession.create(modelToBytes(tokenGraph(n)));
        const expected = await ref.run({ x: new ort.Tensor('float32', x, [1, n, 4]) });
        await ref.release();
        assert.deepEqual(r.summed!.dims, [1, 3]);
        assert.deepEqual(r.flat!.dims, [n, 4]);
        assert.deepEqual(Array.from(r.summed!.data as Float32Array), Array.from(expected.summed!.data as Float32Array));
      }
    } finally {
      await session.release();
    }
  });

  it('refuses a size in anything else: an Expand bound, a graph that changes, an output dim that is not the size, two varying Reshape entries', () => {
    const expandInner = (n: number): Graph => {
      const g = new Graph('expand_inner');
      g.output(op.reduceSum(op.expand(g.input('x', [1, n]), [3, n])), 'y');
      return g;
    };
    assert.throws(() => generalizeDim(expandInner, 'n'), /constant const_\d+\[2\] varies with the size and feeds Expand/);
    const changing = (n: number): Graph => {
      const g = new Graph('changing');
      const x = g.input('x', [n]);
      g.output(n > 1010 ? op.neg(x) : x, 'y');
      return g;
    };
    assert.throws(() => generalizeDim(changing, 'n'), /not the same graph at sizes 1009 and 1013/);
    const doubled = (n: number): Graph => {
      const g = new Graph('doubled');
      const x = g.input('x', [n]);
      g.output(op.concat([x, x], 0), 'y');
      return g;
    };
    assert.throws(() => generalizeDim(doubled, 'n'), /axis 0 of y is 2018, 2026, 2038 .* only a dim equal to the size/);
    const square = (n: number): Graph => {
      const g = new Graph('square');
      const x = g.input('x', [1, n, n]);
      g.output(op.reduceSum(op.reshape(x, [n, n])), 'y');
      return g;
    };
    assert.throws(() => generalizeDim(square, 'n'), /2 entries vary with the size/);
  });
});
