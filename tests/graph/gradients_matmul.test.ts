import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as op from '../../shared/graph/ops/index.js';
import { GRAD_TOLERANCE, gradCheck, type GradCase } from '../helpers/gradcheck.js';

const gemmCases: GradCase[] = [];
for (const transA of [false, true]) {
  for (const transB of [false, true]) {
    // op(A) is [3, 4], op(B) is [4, 5].
    const aShape = transA ? [4, 3] : [3, 4];
    const bShape = transB ? [5, 4] : [4, 5];
    gemmCases.push({
      name: `Gemm transA=${+transA} transB=${+transB} alpha=0.7 beta=1.3 C[3,5]`,
      inputs: [
        { name: 'a', shape: aShape },
        { name: 'b', shape: bShape },
        { name: 'c', shape: [3, 5] },
      ],
      build: ([a, b, c]) => op.gemm(a!, b!, c!, { transA, transB, alpha: 0.7, beta: 1.3 }),
    });
  }
}

const cases: GradCase[] = [
  { name: 'MatMul 2-D x 2-D', inputs: [{ name: 'a', shape: [3, 4] }, { name: 'b', shape: [4, 5] }], build: ([a, b]) => op.matmul(a!, b!) },
  {
    name: 'MatMul batched x 2-D weight (Gemm path)',
    inputs: [{ name: 'a', shape: [2, 3, 4] }, { name: 'b', shape: [4, 5] }],
    build: ([a, b]) => op.matmul(a!, b!),
  },
  {
    name: 'MatMul batch broadcast [2,1,3,4] x [5,4,2]',
    inputs: [{ name: 'a', shape: [2, 1, 3, 4] }, { name: 'b', shape: [5, 4, 2] }],
    build: ([a, b]) => op.matmul(a!, b!),
  },
  {
    name: 'MatMul 2-D x batched [3,4] x [2,4,5]',
    inputs: [{ name: 'a', shape: [3, 4] }, { name: 'b', shape: [2, 4, 5] }],
    build: ([a, b]) => op.matmul(a!, b!),
  },
  ...gemmCases,
  {
    name: 'Gemm no C',
    inputs: [{ name: 'a', shape: [3, 4] }, { name: 'b', shape: [5, 4] }],
    build: ([a, b]) => op.gemm(a!, b!, null, { transB: true, alpha: 2 }),
  },
  {
    name: 'Gemm broadcast C[N] beta=0.5',
    inputs: [{ name: 'a', shape: [3, 4] }, { name: 'b', shape: [4, 5] }, { name: 'c', shape: [5] }],
    build: ([a, b, c]) => op.gemm(a!, b!, c!, { alpha: 1.5, beta: 0.5 }),
  },
  {
    name: 'Gemm broadcast C[1,N] beta=-2',
    inputs: [{ name: 'a', shape: [4, 3] }, { name: 'b', shape: [4, 5] }, { name: 'c', shape: [1, 5] }],
    build: ([a, b, c]) => op.gemm(a!, b!, c!, { transA: true, beta: -2 }),
  },
];

for (const c of cases) {
  test(`gradient ${c.name}`, async () => {
    const r = await gradCheck(c);
    console.log(JSON.stringify(r));
    assert.ok(r.maxRelError <= GRAD_TOLERANCE[r.dtype as 'float32' | 'float64'], `${c.name}: max rel error ${r.maxRelError}`);
  });
}
