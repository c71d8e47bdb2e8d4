// Recomputed pieces (shared/graph/recompute.ts): the same gradients as the plain graph, nested
// pieces included; the copy reads its inputs through the barrier; a forward that bypasses its
// argument is refused.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { grad } from '../../shared/graph/autodiff.js';
import { Graph, type Tensor } from '../../shared/graph/graph.js';
import * as op from '../../shared/graph/ops/index.js';
import { recomputed } from '../../shared/graph/recompute.js';
import { GraphSession } from '../../shared/graph/runtime.js';
import { liveNodes, modelToBytes } from '../../shared/graph/serialize.js';

const N = 6;
const D = 4;

/** softmax((x w) (x w)^T) (x w) with gelu, then a second layer: enough ops for a real backward. */
function layer(x: Tensor, w: Tensor): Tensor {
  const h = op.matmul(x, w);
  const a = op.softmax(op.matmul(h, op.transpose(h, [1, 0])), -1);
  return op.gelu(op.matmul(a, h));
}

function build(mode: 'plain' | 'recomputed' | 'nested'): Graph {
  const g = new Graph('t');
  const x = g.input('x', [N, D]);
  const w1 = g.input('w1', [D, D]);
  const w2 = g.input('w2', [D, D]);
  let y: Tensor;
  if (mode === 'plain') y = layer(layer(x, w1), w2);
  else if (mode === 'recomputed') y = recomputed('both', [x], ([v]) => layer(layer(v!, w1), w2));
  else y = recomputed('outer', [x], ([v]) => layer(recomputed('inner', [v!], ([u]) => layer(u!, w1)), w2));
  const loss = op.reduceSum(op.mul(y, y));
  const [gx, g1, g2] = grad(loss, [x, w1, w2]);
  g.output(loss, 'loss');
  g.output(gx!, 'gx');
  g.output(g1!, 'g1');
  g.output(g2!, 'g2');
  return g;
}

async function run(g: Graph): Promise<Record<string, Float32Array>> {
  const data = (n: number, seed: number): Float32Array => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 1.3 + seed));
  const s = await GraphSession.create(modelToBytes(g), { intraOpThreads: 1 });
  try {
    const r = await s.run({ x: { data: data(N * D, 1), shape: [N, D] }, w1: { data: data(D * D, 2), shape: [D, D] }, w2: { data: data(D * D, 3), shape: [D, D] } });
    return Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v.data as Float32Array]));
  } finally {
    await s.release();
  }
}

describe('recomputed', () => {
  it('gives the plain graph its gradients (captured weights included), nested or not', async () => {
    const plain = await run(build('plain'));
    for (const mode of ['recomputed', 'nested'] as const) {
      const got = await run(build(mode));
      for (const key of ['loss', 'gx', 'g1', 'g2']) {
        const ref = Math.max(...plain[key]!.map(Math.abs));
        const diff = Math.max(...got[key]!.map((v, i) => Math.abs(v - plain[key]![i]!)));
        assert.ok(diff <= 1e-6 * ref, `${mode} ${key}: max diff ${diff} (max |ref| ${ref})`);
      }
    }
  });

  it('reads the piece input through a barrier fed by the cotangent, and keeps only live nodes', () => {
    const g = build('recomputed');
    const live = liveNodes(g);
    assert.ok(live.length < g.nodes.length, 'the copy of the piece output feeds nothing and is dropped');
    // The copy's first MatMul reads x + 0 * dy[0], not x.
    const x = g.inputs.find((t) => t.name === 'x')!;
    const barrier = live.find((n) => n.op === 'Add' && n.inputs.includes(x));
    assert.ok(barrier, 'an Add reads x');
    const zero = barrier.inputs.find((t) => t !== x)!;
    assert.equal(zero.producer?.op, 'Mul');
    assert.ok(live.some((n) => n.op === 'MatMul' && n.inputs.includes(barrier.outputs[0]!)), 'the copy reads the barriered x');
  });

  it('refuses a forward that reads its input directly instead of through the argument', () => {
    const g = new Graph('t');
    const x = g.input('x', [N, D]);
    const w = g.input('w', [D, D]);
    const y = recomputed('bad', [x], () => layer(x, w));
    assert.throws(() => grad(op.reduceSum(y), [w]), /recomputed bad: the forward reads input x directly/);
  });
});
