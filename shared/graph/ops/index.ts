// The op builders, one module per family.
export * from './elementwise.js';
export * from './matmul.js';
export * from './shape_ops.js';
export * from './reduce.js';
export * from './normalization.js';
export * from './activation.js';
export * from './conv.js';
export * from './resize.js';
export type { Operand } from './operand.js';
// The products go through the mixed-precision policy (a no-op on graphs without it).
export { conv, convTranspose, gemm, matmul } from '../autocast.js';
