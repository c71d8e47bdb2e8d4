// LayerNormalization, LayerNorm2d, Softmax, GELU and bilinear resize gradients.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as op from '../../shared/graph/ops/index.js';
import { GRAD_TOLERANCE, gradCheck, type GradCase } from '../helpers/gradcheck.js';

const EPS = 1e-6;

const cases: GradCase[] = [
  {
    name: 'LayerNormalization last axis [2,3,8]',
    inputs: [{ name: 'x', shape: [2, 3, 8] }, { name: 'scale', shape: [8] }, { name: 'bias', shape: [8] }],
    build: ([x, s, b]) => op.layerNorm(x!, s!, b!, EPS, -1),
  },
  {
    name: 'LayerNormalization last two axes (axis=-2) [2,3,4]',
    inputs: [{ name: 'x', shape: [2, 3, 4] }, { name: 'scale', shape: [3, 4] }, { name: 'bias', shape: [3, 4] }],
    build: ([x, s, b]) => op.layerNorm(x!, s!, b!, EPS, -2),
  },
  {
    name: 'LayerNormalization no bias',
    inputs: [{ name: 'x', shape: [3, 6] }, { name: 'scale', shape: [6] }],
    build: ([x, s]) => op.layerNorm(x!, s!, null, EPS, -1),
  },
  {
    name: 'LayerNorm2d [2,4,3,3]',
    inputs: [{ name: 'x', shape: [2, 4, 3, 3] }, { name: 'weight', shape: [4] }, { name: 'bias', shape: [4] }],
    build: ([x, w, b]) => op.layerNorm2d(x!, w!, b!, EPS),
  },
  // float32 reuses the forward node's Mean/InvStdDev outputs (the float64 rule recomputes them).
  {
    name: 'LayerNormalization last axis float32 (reused statistics)',
    dtype: 'float32',
    inputs: [{ name: 'x', shape: [2, 3, 8] }, { name: 'scale', shape: [8] }, { name: 'bias', shape: [8] }],
    build: ([x, s, b]) => op.layerNorm(x!, s!, b!, EPS, -1),
  },
  {
    name: 'LayerNorm2d float32 (reused statistics)',
    dtype: 'float32',
    inputs: [{ name: 'x', shape: [2, 4, 3, 3] }, { name: 'weight', shape: [4] }, { name: 'bias', shape: [4] }],
    build: ([x, w, b]) => op.layerNorm2d(x!, w!, b!, EPS),
  },
  { name: 'Softmax last axis', inputs: [{ name: 'x', shape: [2, 3, 5], range: [-3, 3] }], build: ([x]) => op.softmax(x!, -1) },
  { name: 'Softmax axis 1', inputs: [{ name: 'x', shape: [2, 4, 3], range: [-3, 3] }], build: ([x]) => op.softmax(x!, 1) },
  // float32: ORT's CPU Erf kernel has no double implementation.
  { name: 'GELU', dtype: 'float32', inputs: [{ name: 'x', shape: [3, 7], range: [-3, 3] }], build: ([x]) => op.gelu(x!) },
  {
    name: 'resizeBilinear upsample [1,2,4,5] -> [8,10]',
    inputs: [{ name: 'x', shape: [1, 2, 4, 5] }],
    build: ([x]) => op.resizeBilinear(x!, 8, 10),
  },
  {
    name: 'resizeBilinear downsample [1,2,4,5] -> [3,2]',
    inputs: [{ name: 'x', shape: [1, 2, 4, 5] }],
    build: ([x]) => op.resizeBilinear(x!, 3, 2),
  },
];

for (const c of cases) {
  test(`gradient ${c.name}`, async () => {
    const r = await gradCheck(c);
    console.log(JSON.stringify(r));
    assert.ok(r.maxRelError <= GRAD_TOLERANCE[r.dtype as 'float32' | 'float64'], `${c.name}: max rel error ${r.maxRelError}`);
  });
}
