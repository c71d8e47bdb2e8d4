import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as op from '../../shared/graph/ops/index.js';
import { numel } from '../../shared/tensor/host_tensor.js';
import { GRAD_TOLERANCE, gradCheck, type GradCase } from '../helpers/gradcheck.js';
import { Rng } from '../helpers/rng.js';

// Both operands broadcast in every binary case: A [2, 1, 4] and B [3, 1] meet at [2, 3, 4].
const A = [2, 1, 4];
const B = [3, 1];

/** Values with |v| in [0.2, 1], so kinks at 0 (Relu, Abs) are never within a finite-difference step. */
function awayFromZero(shape: number[], seed: number): number[] {
  const rng = new Rng(seed);
  return Array.from({ length: numel(shape) }, () => (rng.next() < 0.5 ? -1 : 1) * (0.2 + 0.8 * rng.next()));
}

/** Shuffled values on a 0.1 grid shared by all the shapes: no two elements (of any operand) tie. */
function distinct(shapes: number[][], seed: number): number[][] {
  const rng = new Rng(seed);
  const total = shapes.reduce((n, s) => n + numel(s), 0);
  const grid = Array.from({ length: total }, (_, i) => (i - total / 2) * 0.1);
  for (let i = grid.length - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [grid[i], grid[j]] = [grid[j]!, grid[i]!];
  }
  let at = 0;
  return shapes.map((s) => grid.slice(at, (at += numel(s))));
}

const [maxA, maxB] = distinct([A, B], 7);
const [minA, minB] = distinct([[3, 1, 4], [2, 1, 1, 4]], 8);

const cases: GradCase[] = [
  { name: 'Add broadcast', inputs: [{ name: 'a', shape: [2, 3, 4] }, { name: 'b', shape: [3, 1] }], build: ([a, b]) => op.add(a!, b!) },
  { name: 'Mul broadcast', inputs: [{ name: 'a', shape: [2, 1, 4] }, { name: 'b', shape: [3, 4] }], build: ([a, b]) => op.mul(a!, b!) },
  { name: 'Add both-broadcast', inputs: [{ name: 'a', shape: A }, { name: 'b', shape: B }], build: ([a, b]) => op.add(a!, b!) },
  { name: 'Add scalar input', inputs: [{ name: 'a', shape: [] }, { name: 'b', shape: [2, 3] }], build: ([a, b]) => op.add(a!, b!) },
  { name: 'Sub both-broadcast', inputs: [{ name: 'a', shape: A }, { name: 'b', shape: B }], build: ([a, b]) => op.sub(a!, b!) },
  { name: 'Sub number minus tensor', inputs: [{ name: 'a', shape: [2, 3] }], build: ([a]) => op.sub(1.5, a!) },
  { name: 'Mul both-broadcast', inputs: [{ name: 'a', shape: A }, { name: 'b', shape: B }], build: ([a, b]) => op.mul(a!, b!) },
  { name: 'Mul same tensor twice', inputs: [{ name: 'a', shape: [2, 3] }], build: ([a]) => op.mul(a!, a!) },
  { name: 'Div both-broadcast', inputs: [{ name: 'a', shape: A }, { name: 'b', shape: B, range: [0.5, 2] }], build: ([a, b]) => op.div(a!, b!) },
  { name: 'Div negative denominator', inputs: [{ name: 'a', shape: [3, 1] }, { name: 'b', shape: [1, 4], range: [-2, -0.5] }], build: ([a, b]) => op.div(a!, b!) },
  { name: 'Div number over tensor', inputs: [{ name: 'b', shape: [2, 3], range: [0.5, 2] }], build: ([b]) => op.div(2, b!) },
  {
    name: 'Pow both-broadcast',
    inputs: [{ name: 'a', shape: A, range: [0.5, 2] }, { name: 'p', shape: B, range: [-1.5, 2.5] }],
    build: ([a, p]) => op.pow(a!, p!),
  },
  {
    name: 'Pow scalar-broadcast exponent',
    inputs: [{ name: 'a', shape: [2, 3, 4], range: [0.5, 2] }, { name: 'p', shape: [], range: [1.5, 3] }],
    build: ([a, p]) => op.pow(a!, p!),
  },
  { name: 'Pow constant exponent', inputs: [{ name: 'a', shape: [2, 3], range: [0.5, 2] }], build: ([a]) => op.pow(a!, 3) },
  { name: 'Pow constant base', inputs: [{ name: 'p', shape: [2, 3] }], build: ([p]) => op.pow(1.7, p!) },
  {
    name: 'Max both-broadcast',
    inputs: [{ name: 'a', shape: A, values: maxA! }, { name: 'b', shape: B, values: maxB! }],
    build: ([a, b]) => op.max(a!, b!),
  },
  {
    name: 'Min both-broadcast',
    inputs: [{ name: 'a', shape: [3, 1, 4], values: minA! }, { name: 'b', shape: [2, 1, 1, 4], values: minB! }],
    build: ([a, b]) => op.min(a!, b!),
  },
  {
    name: 'Where bool condition, broadcast a/b',
    inputs: [
      { name: 'cond', shape: [3, 1], dtype: 'bool', grad: false, values: [1, 0, 1] },
      { name: 'a', shape: [2, 1, 4] },
      { name: 'b', shape: [4] },
    ],
    build: ([c, a, b]) => op.where(c!, a!, b!),
  },
  {
    name: 'Where condition broadcast against full a',
    inputs: [
      { name: 'cond', shape: [1, 4], dtype: 'bool', grad: false, values: [0, 1, 1, 0] },
      { name: 'a', shape: [3, 4] },
      { name: 'b', shape: [3, 1] },
    ],
    build: ([c, a, b]) => op.where(c!, a!, b!),
  },
  { name: 'Neg', inputs: [{ name: 'x', shape: [2, 3] }], build: ([x]) => op.neg(x!) },
  { name: 'Sqrt', inputs: [{ name: 'x', shape: [2, 3], range: [0.3, 2] }], build: ([x]) => op.sqrt(x!) },
  { name: 'Exp', inputs: [{ name: 'x', shape: [2, 3] }], build: ([x]) => op.exp(x!) },
  { name: 'Log', inputs: [{ name: 'x', shape: [2, 3], range: [0.3, 2] }], build: ([x]) => op.log(x!) },
  { name: 'Erf', dtype: 'float32', inputs: [{ name: 'x', shape: [2, 3], range: [-2, 2] }], build: ([x]) => op.erf(x!) },
  { name: 'Relu', inputs: [{ name: 'x', shape: [3, 4], values: awayFromZero([3, 4], 11) }], build: ([x]) => op.relu(x!) },
  { name: 'Sigmoid', inputs: [{ name: 'x', shape: [2, 3], range: [-3, 3] }], build: ([x]) => op.sigmoid(x!) },
  { name: 'Tanh', inputs: [{ name: 'x', shape: [2, 3], range: [-2, 2] }], build: ([x]) => op.tanh(x!) },
  { name: 'Sin', inputs: [{ name: 'x', shape: [2, 3], range: [-3, 3] }], build: ([x]) => op.sin(x!) },
  { name: 'Cos', inputs: [{ name: 'x', shape: [2, 3], range: [-3, 3] }], build: ([x]) => op.cos(x!) },
  { name: 'Abs', inputs: [{ name: 'x', shape: [3, 4], values: awayFromZero([3, 4], 12) }], build: ([x]) => op.abs(x!) },
  { name: 'Identity', inputs: [{ name: 'x', shape: [2, 3] }], build: ([x]) => op.mul(op.identity(x!), 2) },
  {
    name: 'Cast float32->float64->float32 round trip',
    dtype: 'float32',
    inputs: [{ name: 'x', shape: [2, 3] }, { name: 'w', shape: [3] }],
    build: ([x, w]) => op.cast(op.mul(op.cast(x!, 'float64'), op.cast(w!, 'float64')), 'float32'),
  },
  {
    name: 'GELU (Erf chain)',
    dtype: 'float32',
    inputs: [{ name: 'x', shape: [2, 3], range: [-2, 2] }],
    build: ([x]) => op.gelu(x!),
  },
];

for (const c of cases) {
  test(`gradient ${c.name}`, async () => {
    const r = await gradCheck(c);
    console.log(JSON.stringify(r));
    assert.ok(r.maxRelError <= GRAD_TOLERANCE[r.dtype as 'float32' | 'float64'], `${c.name}: max rel error ${r.maxRelError}`);
  });
}
