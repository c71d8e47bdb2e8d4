import assert from 'node:assert/strict';
import { test } from 'node:test';
import { grad } from '../../shared/graph/autodiff.js';
import { Graph, type Node, type Tensor } from '../../shared/graph/graph.js';
import * as op from '../../shared/graph/ops/index.js';
import { GraphSession } from '../../shared/graph/runtime.js';
import { modelToBytes } from '../../shared/graph/serialize.js';
import { ShapeError, sameShape } from '../../shared/graph/shape.js';
import { numel } from '../../shared/tensor/host_tensor.js';
import { GRAD_TOLERANCE, gradCheck, type GradCase } from '../helpers/gradcheck.js';
import { Rng } from '../helpers/rng.js';

function randn(shape: number[], seed: number): Float64Array {
  const rng = new Rng(seed);
  return Float64Array.from({ length: numel(shape) }, () => rng.normal());
}

/** The nodes grad() appends for `loss` w.r.t. `wrt`. */
function gradNodes(g: Graph, loss: Tensor, wrt: Tensor[]): { grads: Tensor[]; added: Node[] } {
  const before = g.nodes.length;
  const grads = grad(loss, wrt);
  return { grads, added: g.nodes.slice(before) };
}

/** Runs the graph's outputs on float64 feeds. */
async function evaluate(g: Graph, feeds: Record<string, { data: Float64Array; shape: number[] }>): Promise<Record<string, number[]>> {
  const session = await GraphSession.create(modelToBytes(g), { intraOpThreads: 1 });
  try {
    const out = await session.run(Object.fromEntries(Object.entries(feeds).map(([k, f]) => [k, { ...f, dtype: 'float64' as const }])));
    return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, Array.from(v.data as Float64Array)]));
  } finally {
    await session.release();
  }
}

function assertReport(c: GradCase): (t: unknown) => Promise<void> {
  return async () => {
    const r = await gradCheck(c);
    console.log(JSON.stringify(r));
    assert.ok(r.maxRelError <= GRAD_TOLERANCE[r.dtype as 'float32' | 'float64'], `${c.name}: max rel error ${r.maxRelError}`);
  };
}

// (a) Only nodes on a path from a differentiated tensor to the loss get backward work.

test('only-on-path: a frozen elementwise weight gets no gradient work', () => {
  const build = (): { g: Graph; w: Tensor; a: Tensor; loss: Tensor } => {
    const g = new Graph('frozen_mul');
    const x = g.input('x', [4, 3], 'float64');
    const w = g.initializer('W', [3], randn([3], 1), 'float64');
    const a = g.input('a', [4, 3], 'float64');
    const h = op.add(op.mul(x, w), a);
    return { g, w, a, loss: op.reduceSum(op.mul(h, h)) };
  };

  const onlyA = build();
  const { added: addedA } = gradNodes(onlyA.g, onlyA.loss, [onlyA.a]);
  const both = build();
  const { grads: bothGrads, added: addedBoth } = gradNodes(both.g, both.loss, [both.a, both.w]);
  console.log(JSON.stringify({ name: 'only-on-path Mul', nodesWrtA: addedA.length, nodesWrtAandW: addedBoth.length }));

  assert.ok(addedA.length < addedBoth.length, `grad w.r.t. a alone adds ${addedA.length} nodes, w.r.t. a and W ${addedBoth.length}`);
  const wShaped = (nodes: Node[], w: Tensor): Node[] => nodes.filter((n) => n.outputs.some((o) => sameShape(o.shape, w.shape)));
  assert.deepEqual(wShaped(addedA, onlyA.w).map((n) => n.op), [], 'no node computes a W-shaped gradient when only a is trained');
  assert.ok(!addedA.some((n) => n.inputs.includes(onlyA.w)), 'the frozen weight is not read by the backward pass');
  assert.ok(!addedA.some((n) => n.op === 'ReduceSum'), 'no unbroadcast sum toward W');
  // Sanity check of the probe: training W does emit its W-shaped gradient.
  assert.ok(wShaped(addedBoth, both.w).length > 0);
  assert.deepEqual(bothGrads[1]!.shape, [3]);
});

test('only-on-path: no MatMul/Gemm for a frozen weight below a LoRA branch', () => {
  const build = (): { g: Graph; w: Tensor; la: Tensor; lb: Tensor; loss: Tensor } => {
    const g = new Graph('frozen_matmul');
    const x = g.input('x', [4, 6], 'float64');
    const la = g.input('lora_A', [6, 2], 'float64');
    const lb = g.input('lora_B', [2, 6], 'float64');
    const w = g.initializer('W', [6, 5], randn([6, 5], 2), 'float64');
    const h = op.add(x, op.matmul(op.matmul(x, la), lb)); // x + x A B
    const y = op.matmul(h, w);
    return { g, w, la, lb, loss: op.reduceSum(op.mul(y, y)) };
  };
  const products = (nodes: Node[]): Node[] => nodes.filter((n) => n.op === 'MatMul' || n.op === 'Gemm');

  const lora = build();
  const { grads, added } = gradNodes(lora.g, lora.loss, [lora.la, lora.lb]);
  const full = build();
  const { added: addedFull } = gradNodes(full.g, full.loss, [full.la, full.lb, full.w]);
  console.log(JSON.stringify({ name: 'only-on-path MatMul', productsWrtLora: products(added).length, productsWrtLoraAndW: products(addedFull).length }));

  assert.deepEqual(grads.map((t) => t.shape), [[6, 2], [2, 6]]);
  const wGrad = products(added).filter((n) => sameShape(n.outputs[0]!.shape, lora.w.shape));
  assert.deepEqual(wGrad.map((n) => n.name), [], 'no product computes dW for the frozen weight');
  // dh = dy W^T, d(xA) = dh B^T, dB = (xA)^T dh, dA = x^T d(xA): four products, and x's own gradient is never formed.
  assert.equal(products(added).length, 4);
  assert.equal(products(added).filter((n) => sameShape(n.outputs[0]!.shape, [4, 6])).length, 1, 'only dh is [4, 6]; no dx');
  // The frozen weight is read in place (Gemm transB), never transposed into a second copy.
  assert.ok(!added.some((n) => n.op === 'Transpose' && n.inputs.includes(lora.w)), 'W is not transposed');
  // Training W as well adds exactly its one product.
  assert.equal(products(addedFull).length, products(added).length + 1);
  assert.ok(products(addedFull).some((n) => sameShape(n.outputs[0]!.shape, full.w.shape)));
});

test('only-on-path: LoRA gradients through a frozen weight are right', assertReport({
  name: 'LoRA below frozen MatMul',
  inputs: [
    { name: 'x', shape: [3, 4], grad: false },
    { name: 'A', shape: [4, 2] },
    { name: 'B', shape: [2, 4] },
  ],
  build: ([x, a, b]) => {
    const w = x!.graph.initializer('W', [4, 5], randn([4, 5], 3), 'float64');
    return op.matmul(op.add(x!, op.matmul(op.matmul(x!, a!), b!)), w);
  },
}));

// (b) Fan-out: a tensor read twice gets the sum of both gradients.

test('fan-out: two branches through one tensor', assertReport({
  name: 'fan-out tanh(x) into Mul and Sin',
  inputs: [{ name: 'x', shape: [2, 3] }, { name: 'w', shape: [3] }],
  build: ([x, w]) => {
    const t = op.tanh(x!);
    return op.add(op.mul(t, w!), op.sin(t));
  },
}));

test('fan-out: an input read by three nodes', assertReport({
  name: 'fan-out x into Exp, Mul, Concat',
  inputs: [{ name: 'x', shape: [2, 3] }],
  build: ([x]) => op.concat([op.mul(op.exp(x!), x!), op.reduceSum(x!, [0], true)], 0),
}));

test('fan-out: sum(2x + 3x) has gradient 5 everywhere', async () => {
  const g = new Graph('fanout_exact');
  const x = g.input('x', [2, 2], 'float64');
  const loss = op.reduceSum(op.add(op.mul(x, 2), op.mul(x, 3)));
  const [dx] = grad(loss, [x]);
  g.output(dx!, 'dx');
  const out = await evaluate(g, { x: { data: randn([2, 2], 4), shape: [2, 2] } });
  assert.deepEqual(out.dx, [5, 5, 5, 5]);
});

// (c) Errors.

test('grad of a non-scalar loss throws', () => {
  const g = new Graph('nonscalar');
  const x = g.input('x', [2, 3]);
  const y = op.mul(x, x);
  assert.throws(() => grad(y, [x]), (e: Error) => {
    assert.match(e.message, /loss must be a scalar/);
    assert.ok(e.message.includes('[2, 3]'), e.message);
    return true;
  });
});

test('a missing gradient rule on the path throws naming the op', () => {
  const g = new Graph('norule');
  const x = g.input('x', [2, 3]);
  const [f] = g.addNode('Floor', [op.mul(x, 2)], {}, [{ shape: x.shape, dtype: x.dtype }]);
  const loss = op.reduceSum(f!);
  assert.throws(() => grad(loss, [x]), (e: Error) => {
    assert.match(e.message, /no gradient rule for Floor/);
    return true;
  });
});

test('an op without a rule off the path is fine', () => {
  const g = new Graph('norule_offpath');
  const x = g.input('x', [2, 3]);
  const frozen = g.input('frozen', [2, 3]);
  // Floor of a frozen input feeds the loss; Floor of x does not feed the loss.
  const [ff] = g.addNode('Floor', [frozen], {}, [{ shape: frozen.shape, dtype: frozen.dtype }]);
  g.addNode('Floor', [x], {}, [{ shape: x.shape, dtype: x.dtype }]);
  const loss = op.reduceSum(op.mul(x, ff!));
  const [dx] = grad(loss, [x]);
  assert.deepEqual(dx!.shape, [2, 3]);
});

// (d) Tensors the loss does not depend on get zero gradients.

test('gradients of tensors not connected to the loss are zeros', async () => {
  const g = new Graph('unconnected');
  const x = g.input('x', [2, 3], 'float64');
  const z = g.input('z', [3, 2], 'float64'); // read by nothing
  const u = g.input('u', [4], 'float64'); // read by a side output, not by the loss
  const s = g.input('s', [], 'float64'); // rank 0
  g.output(op.exp(u), 'side');
  const loss = op.reduceSum(op.mul(x, x));
  const grads = grad(loss, [x, z, u, s]);
  assert.deepEqual(grads.map((t) => t.shape), [[2, 3], [3, 2], [4], []]);
  grads.forEach((t, k) => g.output(t, `g${k}`));
  const xv = randn([2, 3], 5);
  const out = await evaluate(g, {
    x: { data: xv, shape: [2, 3] },
    z: { data: randn([3, 2], 6), shape: [3, 2] },
    u: { data: randn([4], 7), shape: [4] },
    s: { data: Float64Array.of(1.5), shape: [] },
  });
  assert.deepEqual(out.g0, Array.from(xv, (v) => 2 * v));
  assert.deepEqual(out.g1, [0, 0, 0, 0, 0, 0]);
  assert.deepEqual(out.g2, [0, 0, 0, 0]);
  assert.deepEqual(out.g3, [0]);
});

// (e) Shape errors name the op and both shapes.

function assertShapeError(fn: () => unknown, ...parts: string[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ShapeError, `expected a ShapeError, got ${String(e)}`);
    for (const p of parts) assert.ok(e.message.includes(p), `"${e.message}" does not mention ${p}`);
    return true;
  });
}

test('shape errors name the op and the shapes', () => {
  const g = new Graph('shape_errors');
  const a = g.input('a', [2, 3]);
  const b = g.input('b', [4, 5]);
  assertShapeError(() => op.matmul(a, b), 'MatMul', '[2, 3]', '[4, 5]');
  assertShapeError(() => op.add(a, b), 'Add', '[2, 3]', '[4, 5]');
  assertShapeError(() => op.mul(g.input('c', [2, 3, 4]), g.input('d', [3, 5])), 'Mul', '[2, 3, 4]', '[3, 5]');
  assertShapeError(() => op.concat([a, b], 0), 'Concat', '[2, 3]', '[4, 5]');
  assertShapeError(() => op.concat([a, g.input('e', [2, 3, 1])], 0), 'Concat', '[2, 3]', '[2, 3, 1]');
  assertShapeError(() => op.concat([a, g.input('f', [2, 3], 'float64')], 0), 'Concat', 'float32', 'float64');
  assertShapeError(() => op.reshape(a, [4, 2]), 'Reshape', '[2, 3]', '[4, 2]');
  assertShapeError(() => op.conv(g.input('img', [1, 3, 8, 8]), g.input('k', [4, 2, 3, 3]), null), 'Conv', '[1, 3, 8, 8]', '[4, 2, 3, 3]');
});

test('reductions over an explicit empty axis list are the identity', () => {
  const g = new Graph('empty_axes');
  const x = g.input('x', [2, 3]);
  assert.equal(op.reduceSum(x, []), x);
  assert.equal(op.reduceMean(x, [], true), x);
  assert.equal(op.reduceMax(x, []), x);
});

test('a composite (GELU) is differentiated by its own rule: the backward reads only its input', () => {
  const g = new Graph('composite');
  const x = g.input('x', [4, 8]);
  const a = g.input('a', [4, 8]);
  const y = op.gelu(op.mul(x, a));
  const comp = g.composites.find((c) => c.output === y)!;
  assert.ok(comp, 'gelu registers a composite');
  const inner = new Set(g.nodes.filter((n) => comp.nodeIds.has(n.id)).flatMap((n) => n.outputs).filter((t) => t !== y));
  const before = g.nodes.length;
  grad(op.reduceSum(y), [a]);
  const backward = g.nodes.slice(before + 1);
  assert.ok(backward.length > 0);
  for (const n of backward) for (const t of n.inputs) assert.ok(!t || !inner.has(t), `backward node ${n.op} reads the composite's intermediate ${t?.name}`);
});

test('using a composite intermediate outside it is refused by autodiff', () => {
  const g = new Graph('composite_leak');
  const x = g.input('x', [3]);
  let leaked: Tensor | undefined;
  const y = g.composite('Twice', [x], ([v]) => {
    leaked = op.exp(v!);
    return op.mul(leaked, 2);
  }, ([v], _y, dy) => [op.mul(dy, op.mul(op.exp(v!), 2))]);
  assert.throws(() => grad(op.reduceSum(op.add(y, leaked!)), [x]), /inner tensor of composite Twice is used outside it/);
});
