import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as op from '../../shared/graph/ops/index.js';
import { GRAD_TOLERANCE, gradCheck, type GradCase } from '../helpers/gradcheck.js';

const cases: GradCase[] = [
  { name: 'Add broadcast', inputs: [{ name: 'a', shape: [2, 3, 4] }, { name: 'b', shape: [3, 1] }], build: ([a, b]) => op.add(a!, b!) },
  { name: 'Mul broadcast', inputs: [{ name: 'a', shape: [2, 1, 4] }, { name: 'b', shape: [3, 4] }], build: ([a, b]) => op.mul(a!, b!) },
];

for (const c of cases) {
  test(`gradient ${c.name}`, async () => {
    const r = await gradCheck(c);
    console.log(JSON.stringify(r));
    assert.ok(r.maxRelError <= GRAD_TOLERANCE[r.dtype as 'float32' | 'float64'], `${c.name}: max rel error ${r.maxRelError}`);
  });
}
