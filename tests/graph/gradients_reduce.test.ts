import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as op from '../../shared/graph/ops/index.js';
import { GRAD_TOLERANCE, gradCheck, type GradCase } from '../helpers/gradcheck.js';

const X = [2, 3, 4];
const x = [{ name: 'x', shape: X }];

const cases: GradCase[] = [
  { name: 'ReduceSum axis 1 keepdims', inputs: x, build: ([t]) => op.reduceSum(t!, [1], true) },
  { name: 'ReduceSum axis 1', inputs: x, build: ([t]) => op.reduceSum(t!, [1], false) },
  { name: 'ReduceSum axes [0, 2] keepdims', inputs: x, build: ([t]) => op.reduceSum(t!, [0, 2], true) },
  { name: 'ReduceSum axes [-1, 0]', inputs: x, build: ([t]) => op.reduceSum(t!, [-1, 0], false) },
  { name: 'ReduceSum all axes keepdims', inputs: x, build: ([t]) => op.reduceSum(t!, undefined, true) },
  { name: 'ReduceSum all axes', inputs: x, build: ([t]) => op.reduceSum(t!) },
  { name: 'ReduceSum over a size-1 axis', inputs: [{ name: 'x', shape: [2, 1, 3] }], build: ([t]) => op.reduceSum(t!, [1], false) },
  { name: 'ReduceMean axis 2 keepdims', inputs: x, build: ([t]) => op.reduceMean(t!, [2], true) },
  { name: 'ReduceMean axis -2', inputs: x, build: ([t]) => op.reduceMean(t!, [-2], false) },
  { name: 'ReduceMean axes [0, 1] keepdims', inputs: x, build: ([t]) => op.reduceMean(t!, [0, 1], true) },
  { name: 'ReduceMean axes [0, 2]', inputs: x, build: ([t]) => op.reduceMean(t!, [0, 2], false) },
  { name: 'ReduceMean all axes keepdims', inputs: x, build: ([t]) => op.reduceMean(t!, undefined, true) },
  { name: 'ReduceMean all axes', inputs: x, build: ([t]) => op.reduceMean(t!) },
  { name: 'ReduceSum empty axis list (identity)', inputs: [{ name: 'x', shape: [2, 3] }], build: ([t]) => op.mul(op.reduceSum(t!, [], false), 2) },
  { name: 'ReduceMean empty axis list (identity)', inputs: [{ name: 'x', shape: [2, 3] }], build: ([t]) => op.mul(op.reduceMean(t!, [], true), 2) },
  {
    name: 'ReduceMean of broadcast product',
    inputs: [{ name: 'a', shape: [2, 1, 4] }, { name: 'b', shape: [3, 1] }],
    build: ([a, b]) => op.reduceMean(op.mul(a!, b!), [1, 2], false),
  },
];

for (const c of cases) {
  test(`gradient ${c.name}`, async () => {
    const r = await gradCheck(c);
    console.log(JSON.stringify(r));
    assert.ok(r.maxRelError <= GRAD_TOLERANCE[r.dtype as 'float32' | 'float64'], `${c.name}: max rel error ${r.maxRelError}`);
  });
}
