// End to end: a small LoRA model
//   x -> LayerNorm -> x W + s * (x A^T) B^T -> GELU -> mean squared error against a target
// with W, the LayerNorm scale and bias frozen (initializers) and the LoRA factors A [r, d] and
// B [d_out, r] fed as graph inputs. Checks (a) the gradients w.r.t. A and B against finite
// differences, (b) that Adam driven through one ORT session fits the target, and (c) that the model
// saved with external data runs the same as the in-memory bytes.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { grad } from '../../shared/graph/autodiff.js';
import { Graph, type Tensor } from '../../shared/graph/graph.js';
import * as op from '../../shared/graph/ops/index.js';
import { GraphSession, type Feed, type Fetched } from '../../shared/graph/runtime.js';
import { modelToBytes, saveModel } from '../../shared/graph/serialize.js';
import { numel } from '../../shared/tensor/host_tensor.js';
import { GRAD_TOLERANCE, gradCheck } from '../helpers/gradcheck.js';
import { Rng } from '../helpers/rng.js';

const BATCH = 2;
const TOKENS = 4;
const D = 16;
const D_OUT = 16; // W is [16, 16] float32 = 1024 bytes: large enough to go to external data
const R = 4;
const LORA_SCALE = 2; // alpha / r
const X_SHAPE = [BATCH, TOKENS, D];
const Y_SHAPE = [BATCH, TOKENS, D_OUT];

function randn(rng: Rng, n: number, std: number): Float32Array {
  return Float32Array.from({ length: n }, () => rng.normal() * std);
}

// Frozen weights, fixed across tests.
const frozenRng = new Rng(2024);
const W = randn(frozenRng, D * D_OUT, 1 / Math.sqrt(D));
const LN_SCALE = Float32Array.from({ length: D }, () => 1 + 0.2 * (frozenRng.next() - 0.5));
const LN_BIAS = randn(frozenRng, D, 0.1);

/** Appends the model to x's graph; returns the scalar loss. */
function buildLoss(x: Tensor, target: Tensor, a: Tensor, b: Tensor): Tensor {
  const g = x.graph;
  const w = g.initializer('W', [D, D_OUT], W);
  const h = op.layerNorm(x, g.initializer('ln_scale', [D], LN_SCALE), g.initializer('ln_bias', [D], LN_BIAS), 1e-6, -1);
  const base = op.matmul(h, w);
  const down = op.matmul(h, op.transpose(a, [1, 0])); // x A^T: [.., r]
  const up = op.matmul(down, op.transpose(b, [1, 0])); // (x A^T) B^T: [.., d_out]
  const y = op.gelu(op.add(base, op.mul(up, LORA_SCALE)));
  const diff = op.sub(y, target);
  return op.reduceMean(op.mul(diff, diff));
}

/** The training graph: inputs x, target, A, B; outputs loss, grad_A, grad_B. */
function trainingGraph(): Graph {
  const g = new Graph('lora_e2e');
  const x = g.input('x', X_SHAPE);
  const target = g.input('target', Y_SHAPE);
  const a = g.input('A', [R, D]);
  const b = g.input('B', [D_OUT, R]);
  const loss = buildLoss(x, target, a, b);
  const [ga, gb] = grad(loss, [a, b]);
  g.output(loss, 'loss');
  g.output(ga!, 'grad_A');
  g.output(gb!, 'grad_B');
  return g;
}

/** A fixed problem: input x and a target made by a "teacher" LoRA (A*, B*), so zero loss is reachable. */
async function problem(): Promise<{ x: Float32Array; target: Float32Array }> {
  const rng = new Rng(99);
  const x = randn(rng, numel(X_SHAPE), 1);
  const teacherA = randn(rng, R * D, 0.3);
  const teacherB = randn(rng, D_OUT * R, 0.3);
  // The same model as a forward-only graph that also outputs the GELU activations y.
  const g = new Graph('lora_teacher');
  const xi = g.input('x', X_SHAPE);
  const a = g.input('A', [R, D]);
  const b = g.input('B', [D_OUT, R]);
  const zero = g.input('target', Y_SHAPE);
  buildLoss(xi, zero, a, b);
  // The GELU output is the input of the Sub node against the target.
  const sub = g.nodes.find((n) => n.op === 'Sub' && n.inputs[1] === zero)!;
  g.output(sub.inputs[0]!, 'y');
  const fwd = await GraphSession.create(modelToBytes(g), { intraOpThreads: 1 });
  const out = await fwd.run({ x: f32(x, X_SHAPE), A: f32(teacherA, [R, D]), B: f32(teacherB, [D_OUT, R]), target: f32(new Float32Array(numel(Y_SHAPE)), Y_SHAPE) }, ['y']);
  await fwd.release();
  return { x, target: out.y!.data as Float32Array };
}

const f32 = (data: Float32Array, shape: readonly number[]): Feed => ({ data, shape, dtype: 'float32' });

test('end to end (a): LoRA gradients w.r.t. A and B match finite differences', async () => {
  const r = await gradCheck({
    name: 'LoRA LayerNorm-MatMul-GELU-MSE',
    dtype: 'float32', // GELU's Erf has no float64 kernel in ORT's CPU provider
    samples: 32,
    inputs: [
      { name: 'x', shape: X_SHAPE, grad: false, range: [-2, 2] },
      { name: 'target', shape: Y_SHAPE, grad: false, range: [-1, 1] },
      { name: 'A', shape: [R, D], range: [-0.5, 0.5] },
      { name: 'B', shape: [D_OUT, R], range: [-0.5, 0.5] },
    ],
    build: ([x, target, a, b]) => buildLoss(x!, target!, a!, b!),
  });
  console.log(JSON.stringify(r));
  assert.ok(r.maxRelError <= GRAD_TOLERANCE.float32, `max rel error ${r.maxRelError}`);
});

test('end to end (b): Adam through one ORT session fits the target', async () => {
  const { x, target } = await problem();
  const session = await GraphSession.create(modelToBytes(trainingGraph()), { intraOpThreads: 1 });
  const rng = new Rng(5);
  // Standard LoRA init: A random, B zero (so the model starts at the frozen base).
  const params = { A: randn(rng, R * D, 1 / Math.sqrt(D)), B: new Float32Array(D_OUT * R) };
  const shapes = { A: [R, D], B: [D_OUT, R] };
  const lr = 1e-2;
  const [beta1, beta2, eps] = [0.9, 0.999, 1e-8];
  const m = { A: new Float32Array(R * D), B: new Float32Array(D_OUT * R) };
  const v = { A: new Float32Array(R * D), B: new Float32Array(D_OUT * R) };
  const losses: number[] = [];
  for (let t = 1; t <= 30; t++) {
    const out: Record<string, Fetched> = await session.run({
      x: f32(x, X_SHAPE),
      target: f32(target, Y_SHAPE),
      A: f32(params.A, shapes.A),
      B: f32(params.B, shapes.B),
    });
    losses.push((out.loss!.data as Float32Array)[0]!);
    for (const k of ['A', 'B'] as const) {
      const gk = out[`grad_${k}`]!.data as Float32Array;
      const p = params[k];
      assert.equal(gk.length, p.length);
      const c1 = 1 - beta1 ** t;
      const c2 = 1 - beta2 ** t;
      for (let i = 0; i < p.length; i++) {
        m[k][i] = beta1 * m[k][i]! + (1 - beta1) * gk[i]!;
        v[k][i] = beta2 * v[k][i]! + (1 - beta2) * gk[i]! * gk[i]!;
        p[i] = p[i]! - (lr * (m[k][i]! / c1)) / (Math.sqrt(v[k][i]! / c2) + eps);
      }
    }
  }
  const final = (
    await session.run({ x: f32(x, X_SHAPE), target: f32(target, Y_SHAPE), A: f32(params.A, shapes.A), B: f32(params.B, shapes.B) }, ['loss'])
  ).loss!.data as Float32Array;
  await session.release();
  const initial = losses[0]!;
  const last = final[0]!;
  const mean = (xs: number[]): number => xs.reduce((s, q) => s + q, 0) / xs.length;
  console.log(JSON.stringify({ name: 'LoRA Adam 30 steps', initial, final: last, ratio: last / initial, losses: losses.map((l) => +l.toPrecision(4)) }));
  assert.ok(Number.isFinite(last), 'final loss is finite');
  assert.ok(last < 0.5 * initial, `loss ${initial} -> ${last} did not halve`);
  assert.ok(mean(losses.slice(-5)) < mean(losses.slice(0, 5)), 'loss does not decrease overall');
  const decreasing = losses.slice(1).filter((l, i) => l < losses[i]!).length;
  assert.ok(decreasing >= 0.8 * (losses.length - 1), `only ${decreasing} of ${losses.length - 1} steps lowered the loss`);
});

test('end to end (c): saved with external data, loaded by path, same outputs as from bytes', async () => {
  const g = trainingGraph();
  const dir = mkdtempSync(join(tmpdir(), 'sam-lora-e2e-'));
  try {
    const path = join(dir, 'model.onnx');
    const saved = saveModel(g, path, { externalThresholdBytes: 0 });
    assert.equal(saved.modelPath, path);
    assert.equal(saved.dataPath, join(dir, 'model.onnx.data'));
    assert.ok(existsSync(path), 'model.onnx written');
    assert.ok(existsSync(saved.dataPath!), 'model.onnx.data written');
    assert.ok(statSync(saved.dataPath!).size >= W.byteLength, `model.onnx.data holds W (${statSync(saved.dataPath!).size} bytes)`);
    // W lives only in the data file: the model proto is smaller than the inline one by about W's size.
    assert.ok(statSync(path).size <= modelToBytes(g).byteLength - W.byteLength + 256, 'W is not inlined in model.onnx');

    const rng = new Rng(11);
    const feeds = {
      x: f32(randn(rng, numel(X_SHAPE), 1), X_SHAPE),
      target: f32(randn(rng, numel(Y_SHAPE), 0.5), Y_SHAPE),
      A: f32(randn(rng, R * D, 0.3), [R, D]),
      B: f32(randn(rng, D_OUT * R, 0.3), [D_OUT, R]),
    };
    const fromPath = await GraphSession.create(path, { intraOpThreads: 1 });
    const fromBytes = await GraphSession.create(modelToBytes(g), { intraOpThreads: 1 });
    const a = await fromPath.run(feeds);
    const b = await fromBytes.run(feeds);
    await fromPath.release();
    await fromBytes.release();
    let maxAbs = 0;
    for (const name of ['loss', 'grad_A', 'grad_B']) {
      assert.deepEqual(a[name]!.shape, b[name]!.shape, name);
      const da = a[name]!.data as Float32Array;
      const db = b[name]!.data as Float32Array;
      for (let i = 0; i < da.length; i++) maxAbs = Math.max(maxAbs, Math.abs(da[i]! - db[i]!));
    }
    console.log(JSON.stringify({ name: 'saveModel external data vs modelToBytes', maxAbsDiff: maxAbs, dataBytes: statSync(saved.dataPath!).size }));
    assert.equal(maxAbs, 0, 'path-loaded and byte-loaded sessions differ');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('end to end (d): the training-session options (no prepacking, no CPU arena) reach ORT and change no result', async () => {
  const g = trainingGraph();
  const rng = new Rng(12);
  const feeds = {
    x: f32(randn(rng, numel(X_SHAPE), 1), X_SHAPE),
    target: f32(randn(rng, numel(Y_SHAPE), 0.5), Y_SHAPE),
    A: f32(randn(rng, R * D, 0.3), [R, D]),
    B: f32(randn(rng, D_OUT * R, 0.3), [D_OUT, R]),
  };
  const bytes = modelToBytes(g);
  const plain = await GraphSession.create(bytes, { intraOpThreads: 1 });
  // The binding rejects an extra option it cannot pass on, so creating this session checks the key's form.
  const lean = await GraphSession.create(bytes, { intraOpThreads: 1, prepacking: false, memArena: false });
  const a = await plain.run(feeds);
  const b = await lean.run(feeds);
  await plain.release();
  await lean.release();
  for (const name of ['loss', 'grad_A', 'grad_B']) {
    const da = a[name]!.data as Float32Array;
    const db = b[name]!.data as Float32Array;
    for (let i = 0; i < da.length; i++) assert.ok(Math.abs(da[i]! - db[i]!) <= 1e-6 * Math.max(1, Math.abs(da[i]!)), `${name}[${i}]: ${da[i]} vs ${db[i]}`);
  }
});
