// Loads every gradient rule family into the registry.
import './elementwise.js';
import './matmul.js';
import './shape_ops.js';
import './reduce.js';
import './normalization.js';
import './activation.js';
import './conv.js';

export { gradientRule, registeredOps, registerGradient } from './registry.js';
export type { GradContext, GradRule } from './registry.js';
