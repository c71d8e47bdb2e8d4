// The fp16 policy (shared/graph/autocast.ts) inside recomputed pieces (recompute.ts): the copy the
// backward pass builds must read the trained tensors through casts of its own. With one cast shared
// by the forward and the copy, the trained weights' gradients bypassed the copy and came out zero
// (every fp16 run with train.memory global or all trained nothing).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { grad } from '../../shared/graph/autodiff.js';
import { enableAutocast } from '../../shared/graph/autocast.js';
import { Graph, type Tensor } from '../../shared/graph/graph.js';
import * as op from '../../shared/graph/ops/index.js';
import { recomputed } from '../../shared/graph/recompute.js';
import { GraphSession } from '../../shared/graph/runtime.js';
import { modelToBytes } from '../../shared/graph/serialize.js';

const N = 6;
const D = 4;

/** A frozen projection (an initializer) plus a trained one, as a LoRA block has. */
function layer(x: Tensor, frozen: Tensor, w: Tensor): Tensor {
  const h = op.add(op.matmul(x, frozen), op.matmul(x, w));
  return op.gelu(op.matmul(op.softmax(op.matmul(h, op.transpose(h, [1, 0])), -1), h));
}

function build(fp16: boolean, recompute: boolean): Graph {
  const g = new Graph('t');
  if (fp16) enableAutocast(g);
  const x = g.input('x', [N, D]);
  const w = g.input('w', [D, D]);
  const frozen = g.initializer('frozen', [D, D], Float32Array.from({ length: D * D }, (_, i) => Math.cos(i)));
  const y = recompute ? recomputed('piece', [x], ([v]) => layer(layer(v!, frozen, w), frozen, w)) : layer(layer(x, frozen, w), frozen, w);
  const loss = op.reduceSum(op.mul(y, y));
  const [gx, gw] = grad(loss, [x, w]);
  g.output(loss, 'loss');
  g.output(gx!, 'gx');
  g.output(gw!, 'gw');
  return g;
}

async function run(g: Graph): Promise<Record<string, Float32Array>> {
  const data = (n: number, seed: number): Float32Array => Float32Array.from({ length: n }, (_, i) => 0.5 * Math.sin(i * 1.3 + seed));
  const s = await GraphSession.create(modelToBytes(g), { intraOpThreads: 1 });
  try {
    const r = await s.run({ x: { data: data(N * D, 1), shape: [N, D] }, w: { data: data(D * D, 2), shape: [D, D] } });
    return Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v.data as Float32Array]));
  } finally {
    await s.release();
  }
}

const maxAbs = (a: Float32Array): number => Math.max(...a.map(Math.abs));

describe('autocast inside recomputed pieces', () => {
  it('gives the trained weights the gradients of the plain fp16 graph (not zero), and fp32 within fp16 rounding', async () => {
    const plain16 = await run(build(true, false));
    const re16 = await run(build(true, true));
    const plain32 = await run(build(false, false));
    assert.ok(maxAbs(re16.gw!) > 0.1 * maxAbs(plain32.gw!), `recomputed fp16 gradient of w is ${maxAbs(re16.gw!)}`);
    for (const key of ['loss', 'gx', 'gw']) {
      const ref = maxAbs(plain32[key]!);
      // The same fp16 ops in the same order: equal up to fp32 rounding of the barrier's additions.
      const same = Math.max(...re16[key]!.map((v, i) => Math.abs(v - plain16[key]![i]!)));
      assert.ok(same <= 1e-5 * ref, `${key}: recomputed vs plain fp16 differ by ${same} (scale ${ref})`);
      // fp16 products (11-bit mantissas) against fp32.
      const rounding = Math.max(...re16[key]!.map((v, i) => Math.abs(v - plain32[key]![i]!)));
      assert.ok(rounding <= 1e-2 * ref, `${key}: fp16 vs fp32 differ by ${rounding} (scale ${ref})`);
    }
  });
});
