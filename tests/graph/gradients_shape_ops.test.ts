import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as op from '../../shared/graph/ops/index.js';
import { GRAD_TOLERANCE, gradCheck, type GradCase } from '../helpers/gradcheck.js';

const cases: GradCase[] = [
  { name: 'Reshape', inputs: [{ name: 'x', shape: [2, 3, 4] }], build: ([x]) => op.reshape(x!, [4, -1]) },
  { name: 'Reshape dropping a unit dim', inputs: [{ name: 'x', shape: [2, 1, 3] }], build: ([x]) => op.reshape(x!, [6]) },
  { name: 'Transpose rank 4', inputs: [{ name: 'x', shape: [2, 3, 4, 5] }], build: ([x]) => op.transpose(x!, [2, 0, 3, 1]) },
  { name: 'Transpose rank 3 swap last', inputs: [{ name: 'x', shape: [2, 3, 4] }], build: ([x]) => op.transpose(x!, [0, 2, 1]) },
  {
    name: 'Slice several axes, negative starts/ends, ends past the dim',
    inputs: [{ name: 'x', shape: [4, 5, 6] }],
    build: ([x]) => op.slice(x!, [1, -4, -5], [100, -1, 5], [0, 1, 2]),
  },
  {
    name: 'Slice negative axis, start before the dim',
    inputs: [{ name: 'x', shape: [3, 5] }],
    build: ([x]) => op.slice(x!, [-100, 2], [2, 1000], [-2, -1]),
  },
  { name: 'Slice axes omitted (leading axes)', inputs: [{ name: 'x', shape: [4, 5, 2] }], build: ([x]) => op.slice(x!, [-3, 1], [3, 9]) },
  { name: 'Slice middle axis only', inputs: [{ name: 'x', shape: [2, 6, 3] }], build: ([x]) => op.slice(x!, [2], [4], [1]) },
  { name: 'Pad', inputs: [{ name: 'x', shape: [2, 3, 4] }], build: ([x]) => op.pad(x!, [0, 1, 2, 1, 0, 3]) },
  { name: 'Pad with value', inputs: [{ name: 'x', shape: [3, 2] }], build: ([x]) => op.pad(x!, [2, 0, 0, 1], 0.5) },
  {
    name: 'Concat 3 inputs, middle frozen',
    inputs: [{ name: 'a', shape: [2, 1, 3] }, { name: 'b', shape: [2, 2, 3], grad: false }, { name: 'c', shape: [2, 3, 3] }],
    build: ([a, b, c]) => op.concat([a!, b!, c!], 1),
  },
  {
    name: 'Concat negative axis',
    inputs: [{ name: 'a', shape: [2, 2] }, { name: 'b', shape: [2, 1] }, { name: 'c', shape: [2, 3] }],
    build: ([a, b, c]) => op.concat([a!, b!, c!], -1),
  },
  {
    name: 'Split, middle part unused',
    inputs: [{ name: 'x', shape: [2, 4, 3] }],
    build: ([x]) => {
      const [p0, , p2] = op.split(x!, [1, 2, 1], 1);
      return op.add(p0!, op.mul(p2!, 3));
    },
  },
  {
    name: 'Split, all parts used',
    inputs: [{ name: 'x', shape: [5, 2] }],
    build: ([x]) => {
      const [p0, p1] = op.split(x!, [2, 3], 0);
      return op.concat([op.mul(p1!, 2), op.neg(p0!)], 0);
    },
  },
  { name: 'Expand', inputs: [{ name: 'x', shape: [3, 1] }], build: ([x]) => op.expand(x!, [2, 3, 4]) },
  { name: 'Expand from scalar', inputs: [{ name: 'x', shape: [] }], build: ([x]) => op.expand(x!, [2, 3]) },
  {
    name: 'Gather axis 1, 2-D indices with repeats',
    inputs: [{ name: 'x', shape: [2, 4, 3] }],
    build: ([x]) => op.gather(x!, [0, 3, 3, 1, 0, 0], [3, 2], 1),
  },
  {
    name: 'Gather axis 0, negative and repeated indices',
    inputs: [{ name: 'x', shape: [4, 3] }],
    build: ([x]) => op.gather(x!, [-1, 2, 3], [3], 0),
  },
  {
    name: 'Gather last axis, scalar index',
    inputs: [{ name: 'x', shape: [2, 3, 4] }],
    build: ([x]) => op.gather(x!, [2], [], 2),
  },
  { name: 'Unsqueeze', inputs: [{ name: 'x', shape: [2, 3] }], build: ([x]) => op.unsqueeze(x!, [0, -1]) },
  { name: 'Squeeze', inputs: [{ name: 'x', shape: [1, 3, 1, 2] }], build: ([x]) => op.squeeze(x!, [0, -2]) },
];

for (const c of cases) {
  test(`gradient ${c.name}`, async () => {
    const r = await gradCheck(c);
    console.log(JSON.stringify(r));
    assert.ok(r.maxRelError <= GRAD_TOLERANCE[r.dtype as 'float32' | 'float64'], `${c.name}: max rel error ${r.maxRelError}`);
  });
}
