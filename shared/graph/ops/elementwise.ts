// Element-wise ops with numpy broadcasting.

import { type DType, ONNX_DTYPE } from '../dtype.js';
import { type Tensor, int } from '../graph.js';
import { ShapeError, broadcastShapes, fmt } from '../shape.js';
import { type Operand, lift } from './operand.js';

function binary(op: string, a: Operand, b: Operand, outDtype?: DType): Tensor {
  const [x, y] = lift(op, a, b);
  if (x.dtype !== y.dtype) throw new ShapeError(op, `dtypes differ: ${x.dtype}${fmt(x.shape)} and ${y.dtype}${fmt(y.shape)}`);
  const shape = broadcastShapes(op, x.shape, y.shape);
  return x.graph.addNode(op, [x, y], {}, [{ shape, dtype: outDtype ?? x.dtype }])[0]!;
}

function unary(op: string, x: Tensor): Tensor {
  return x.graph.addNode(op, [x], {}, [{ shape: x.shape, dtype: x.dtype }])[0]!;
}

export const add = (a: Operand, b: Operand): Tensor => binary('Add', a, b);
export const sub = (a: Operand, b: Operand): Tensor => binary('Sub', a, b);
export const mul = (a: Operand, b: Operand): Tensor => binary('Mul', a, b);
export const div = (a: Operand, b: Operand): Tensor => binary('Div', a, b);
export const pow = (a: Operand, b: Operand): Tensor => binary('Pow', a, b);
export const max = (a: Operand, b: Operand): Tensor => binary('Max', a, b);
export const min = (a: Operand, b: Operand): Tensor => binary('Min', a, b);
export const greater = (a: Operand, b: Operand): Tensor => binary('Greater', a, b, 'bool');
export const less = (a: Operand, b: Operand): Tensor => binary('Less', a, b, 'bool');
export const equal = (a: Operand, b: Operand): Tensor => binary('Equal', a, b, 'bool');

export const neg = (x: Tensor): Tensor => unary('Neg', x);
export const sqrt = (x: Tensor): Tensor => unary('Sqrt', x);
export const exp = (x: Tensor): Tensor => unary('Exp', x);
export const log = (x: Tensor): Tensor => unary('Log', x);
export const erf = (x: Tensor): Tensor => unary('Erf', x);
export const relu = (x: Tensor): Tensor => unary('Relu', x);
export const sigmoid = (x: Tensor): Tensor => unary('Sigmoid', x);
export const tanh = (x: Tensor): Tensor => unary('Tanh', x);
export const cos = (x: Tensor): Tensor => unary('Cos', x);
export const sin = (x: Tensor): Tensor => unary('Sin', x);
export const abs = (x: Tensor): Tensor => unary('Abs', x);
export const sign = (x: Tensor): Tensor => unary('Sign', x);

/** where(cond, a, b): a where cond is true, else b (all three broadcast). */
export function where(cond: Tensor, a: Operand, b: Operand): Tensor {
  const [x, y] = lift('Where', a, b);
  if (cond.dtype !== 'bool') throw new ShapeError('Where', `condition must be bool, got ${cond.dtype}`);
  if (x.dtype !== y.dtype) throw new ShapeError('Where', `dtypes differ: ${x.dtype} and ${y.dtype}`);
  const shape = broadcastShapes('Where', broadcastShapes('Where', cond.shape, x.shape), y.shape);
  return cond.graph.addNode('Where', [cond, x, y], {}, [{ shape, dtype: x.dtype }])[0]!;
}

export function cast(x: Tensor, to: DType): Tensor {
  if (x.dtype === to) return x;
  return x.graph.addNode('Cast', [x], { to: int(ONNX_DTYPE[to]) }, [{ shape: x.shape, dtype: to }])[0]!;
}
