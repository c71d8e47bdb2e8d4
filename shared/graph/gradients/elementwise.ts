// Gradients of element-wise ops. Binary rules undo broadcasting with unbroadcast().

import { isFloat } from '../dtype.js';
import type { Tensor } from '../graph.js';
import { cast, cos, div, exp, greater, less, log, mul, neg, pow, sign, sin, sub, where } from '../ops/index.js';
import { registerGradient } from './registry.js';
import { unbroadcast } from './unbroadcast.js';

const inputs = (node: { inputs: readonly (Tensor | null)[] }): Tensor[] => node.inputs as Tensor[];

registerGradient('Add', ({ node, dOut: [dy], needs }) => {
  const [a, b] = inputs(node);
  return [needs[0] ? unbroadcast(dy!, a!.shape) : undefined, needs[1] ? unbroadcast(dy!, b!.shape) : undefined];
});

registerGradient('Sub', ({ node, dOut: [dy], needs }) => {
  const [a, b] = inputs(node);
  return [needs[0] ? unbroadcast(dy!, a!.shape) : undefined, needs[1] ? unbroadcast(neg(dy!), b!.shape) : undefined];
});

registerGradient('Mul', ({ node, dOut: [dy], needs }) => {
  const [a, b] = inputs(node);
  return [needs[0] ? unbroadcast(mul(dy!, b!), a!.shape) : undefined, needs[1] ? unbroadcast(mul(dy!, a!), b!.shape) : undefined];
});

registerGradient('Div', ({ node, dOut: [dy], needs }) => {
  const [a, b] = inputs(node);
  const y = node.outputs[0]!;
  return [
    needs[0] ? unbroadcast(div(dy!, b!), a!.shape) : undefined,
    // d(a/b)/db = -a/b^2 = -y/b
    needs[1] ? unbroadcast(neg(div(mul(dy!, y), b!)), b!.shape) : undefined,
  ];
});

registerGradient('Pow', ({ node, dOut: [dy], needs }) => {
  const [a, p] = inputs(node);
  const y = node.outputs[0]!;
  return [
    // p a^(p-1), not p y / a, which would divide by zero at a = 0.
    needs[0] ? unbroadcast(mul(dy!, mul(p!, pow(a!, sub(p!, 1)))), a!.shape) : undefined,
    needs[1] ? unbroadcast(mul(dy!, mul(y, log(a!))), p!.shape) : undefined,
  ];
});

registerGradient('Neg', ({ dOut: [dy] }) => [neg(dy!)]);

registerGradient('Sqrt', ({ node, dOut: [dy] }) => [div(mul(dy!, 0.5), node.outputs[0]!)]);

registerGradient('Exp', ({ node, dOut: [dy] }) => [mul(dy!, node.outputs[0]!)]);

registerGradient('Log', ({ node, dOut: [dy] }) => [div(dy!, node.inputs[0]!)]);

registerGradient('Erf', ({ node, dOut: [dy] }) => {
  const x = node.inputs[0]!;
  // d erf(x)/dx = 2/sqrt(pi) exp(-x^2)
  return [mul(dy!, mul(exp(neg(mul(x, x))), 2 / Math.sqrt(Math.PI)))];
});

registerGradient('Relu', ({ node, dOut: [dy] }) => [where(greater(node.inputs[0]!, 0), dy!, 0)]);

registerGradient('Sigmoid', ({ node, dOut: [dy] }) => {
  const y = node.outputs[0]!;
  return [mul(dy!, mul(y, sub(1, y)))];
});

registerGradient('Tanh', ({ node, dOut: [dy] }) => {
  const y = node.outputs[0]!;
  return [mul(dy!, sub(1, mul(y, y)))];
});

registerGradient('Sin', ({ node, dOut: [dy] }) => [mul(dy!, cos(node.inputs[0]!))]);

registerGradient('Cos', ({ node, dOut: [dy] }) => [neg(mul(dy!, sin(node.inputs[0]!)))]);

registerGradient('Abs', ({ node, dOut: [dy] }) => [mul(dy!, sign(node.inputs[0]!))]);

registerGradient('Where', ({ node, dOut: [dy], needs }) => {
  const [c, a, b] = inputs(node);
  return [
    undefined,
    needs[1] ? unbroadcast(where(c!, dy!, 0), a!.shape) : undefined,
    needs[2] ? unbroadcast(where(c!, 0, dy!), b!.shape) : undefined,
  ];
});

// Max/Min send the gradient to the selected operand; ties go to the first, as in PyTorch's maximum
// only up to tie-breaking (PyTorch splits ties evenly; ties have measure zero in training).
registerGradient('Max', ({ node, dOut: [dy], needs }) => {
  const [a, b] = inputs(node);
  const bWins = less(a!, b!);
  return [
    needs[0] ? unbroadcast(where(bWins, 0, dy!), a!.shape) : undefined,
    needs[1] ? unbroadcast(where(bWins, dy!, 0), b!.shape) : undefined,
  ];
});

registerGradient('Min', ({ node, dOut: [dy], needs }) => {
  const [a, b] = inputs(node);
  const bWins = greater(a!, b!);
  return [
    needs[0] ? unbroadcast(where(bWins, 0, dy!), a!.shape) : undefined,
    needs[1] ? unbroadcast(where(bWins, dy!, 0), b!.shape) : undefined,
  ];
});

registerGradient('Identity', ({ dOut: [dy] }) => [dy]);

registerGradient('Cast', ({ node, dOut: [dy] }) => {
  const x = node.inputs[0]!;
  return [isFloat(x.dtype) ? cast(dy!, x.dtype) : undefined];
});
