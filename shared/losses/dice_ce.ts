// DiceCE loss as the reference project uses it (MONAI DiceCELoss(sigmoid=True, squared_pred=True)),
// per sample over that sample's valid pixels only, so batches of differently sized images are exact:
//   dice = 1 - (2 sum(p g) + 1e-5) / (sum(p^2) + sum(g^2) + 1e-5),  p = sigmoid(logits)
//   bce  = mean over valid pixels of the stable BCE-with-logits: max(x, 0) - x g + log(1 + exp(-|x|))

import type { Tensor } from '../graph/graph.js';
import * as op from '../graph/ops/index.js';

const SMOOTH = 1e-5;

/**
 * logits, target, valid: [N, H, W] (target and valid in {0, 1}; target already 0 outside valid).
 * Returns the per-sample loss [N].
 */
export function diceCELoss(logits: Tensor, target: Tensor, valid: Tensor): Tensor {
  const axes = [1, 2];
  const p = op.mul(op.sigmoid(logits), valid);
  const intersection = op.reduceSum(op.mul(p, target), axes);
  const predSq = op.reduceSum(op.mul(p, p), axes);
  const targetSq = op.reduceSum(op.mul(target, target), axes);
  const dice = op.sub(1, op.div(op.add(op.mul(intersection, 2), SMOOTH), op.add(op.add(predSq, targetSq), SMOOTH)));

  const softplusNegAbs = op.log(op.add(op.exp(op.neg(op.abs(logits))), 1));
  const bcePixel = op.add(op.sub(op.relu(logits), op.mul(logits, target)), softplusNegAbs);
  const bce = op.div(op.reduceSum(op.mul(bcePixel, valid), axes), op.reduceSum(valid, axes));
  return op.add(dice, bce);
}
