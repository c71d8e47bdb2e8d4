// Conv and ConvTranspose gradients. ORT's CPU Conv kernels are float-only, so these run in float32.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as op from '../../shared/graph/ops/index.js';
import { GRAD_TOLERANCE, gradCheck, type GradCase } from '../helpers/gradcheck.js';

const f32 = (c: Omit<GradCase, 'dtype'>): GradCase => ({ samples: 16, ...c, dtype: 'float32' });

const cases: GradCase[] = [
  f32({
    name: 'Conv 3x3 pad 1 stride 1 bias',
    inputs: [{ name: 'x', shape: [2, 3, 5, 5] }, { name: 'w', shape: [4, 3, 3, 3] }, { name: 'b', shape: [4] }],
    build: ([x, w, b]) => op.conv(x!, w!, b!, { pads: [1, 1, 1, 1] }),
  }),
  f32({
    // H = 7 (odd) and W = 6 (even): with stride 2 the last row/column of W is never reached by the
    // forward conv's window starts, so the input gradient needs output padding to recover W.
    name: 'Conv 3x3 stride 2 pad 1 input [7,6]',
    samples: 84, // every element of x, so the last column's gradient is checked
    inputs: [{ name: 'x', shape: [1, 2, 7, 6] }, { name: 'w', shape: [3, 2, 3, 3] }, { name: 'b', shape: [3] }],
    build: ([x, w, b]) => op.conv(x!, w!, b!, { strides: [2, 2], pads: [1, 1, 1, 1] }),
  }),
  f32({
    name: 'Conv 3x3 stride 2 no pad input [7,8]',
    inputs: [{ name: 'x', shape: [1, 2, 7, 8] }, { name: 'w', shape: [3, 2, 3, 3] }],
    build: ([x, w]) => op.conv(x!, w!, null, { strides: [2, 2] }),
  }),
  f32({
    name: 'Conv 1x1',
    inputs: [{ name: 'x', shape: [2, 4, 3, 3] }, { name: 'w', shape: [5, 4, 1, 1] }, { name: 'b', shape: [5] }],
    build: ([x, w, b]) => op.conv(x!, w!, b!),
  }),
  f32({
    name: 'Conv 3x3 dilation 2 pad 2',
    inputs: [{ name: 'x', shape: [1, 2, 7, 6] }, { name: 'w', shape: [3, 2, 3, 3] }, { name: 'b', shape: [3] }],
    build: ([x, w, b]) => op.conv(x!, w!, b!, { dilations: [2, 2], pads: [2, 2, 2, 2] }),
  }),
  f32({
    name: 'Conv 3x3 dilation 2 asymmetric pads',
    inputs: [{ name: 'x', shape: [1, 2, 7, 6] }, { name: 'w', shape: [3, 2, 3, 3] }],
    build: ([x, w]) => op.conv(x!, w!, null, { dilations: [2, 2], pads: [1, 2, 0, 1] }),
  }),
  f32({
    name: 'Conv patch embed kernel=stride=4',
    inputs: [{ name: 'x', shape: [1, 3, 8, 12] }, { name: 'w', shape: [6, 3, 4, 4] }, { name: 'b', shape: [6] }],
    build: ([x, w, b]) => op.conv(x!, w!, b!, { strides: [4, 4] }),
  }),
  f32({
    name: 'Conv group 2 (input gradient)',
    inputs: [{ name: 'x', shape: [1, 4, 5, 5] }, { name: 'w', shape: [6, 2, 3, 3], grad: false }, { name: 'b', shape: [6] }],
    build: ([x, w, b]) => op.conv(x!, w!, b!, { pads: [1, 1, 1, 1], group: 2 }),
  }),
  f32({
    name: 'ConvTranspose kernel 2 stride 2 bias',
    inputs: [{ name: 'x', shape: [2, 4, 3, 3] }, { name: 'w', shape: [4, 3, 2, 2] }, { name: 'b', shape: [3] }],
    build: ([x, w, b]) => op.convTranspose(x!, w!, b!, { strides: [2, 2] }),
  }),
  f32({
    name: 'ConvTranspose kernel 3 stride 2 pad 1 output padding 1',
    inputs: [{ name: 'x', shape: [1, 3, 3, 4] }, { name: 'w', shape: [3, 2, 3, 3] }, { name: 'b', shape: [2] }],
    build: ([x, w, b]) => op.convTranspose(x!, w!, b!, { strides: [2, 2], pads: [1, 1, 1, 1], outputPadding: [1, 1] }),
  }),
  f32({
    name: 'ConvTranspose kernel 3 stride 2 pad 1 output padding [1,0]',
    inputs: [{ name: 'x', shape: [1, 3, 3, 4] }, { name: 'w', shape: [3, 2, 3, 3] }],
    build: ([x, w]) => op.convTranspose(x!, w!, null, { strides: [2, 2], pads: [1, 1, 1, 1], outputPadding: [1, 0] }),
  }),
];

for (const c of cases) {
  test(`gradient ${c.name}`, async () => {
    const r = await gradCheck(c);
    console.log(JSON.stringify(r));
    assert.ok(r.maxRelError <= GRAD_TOLERANCE[r.dtype as 'float32' | 'float64'], `${c.name}: max rel error ${r.maxRelError}`);
  });
}
