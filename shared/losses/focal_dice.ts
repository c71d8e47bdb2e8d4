// SAM's mask loss: focal loss and dice loss combined 20:1 (Kirillov et al. 2023, "Segment Anything",
// appendix "Training algorithm"), per sample and per mask over the valid pixels only:
//   focal = mean over valid pixels of alpha_t (1 - p_t)^2 BCE(x, g), alpha 0.25 (RetinaNet's)
//   dice  = 1 - (2 sum(p g) + 1) / (sum(p) + sum(g) + 1), p = sigmoid(x)
// The pretraining graph (sam/pretrain_graph.ts) uses it on all four mask tokens at once.

import type { Tensor } from '../graph/graph.js';
import * as op from '../graph/ops/index.js';

export const FOCAL_ALPHA = 0.25;
export const FOCAL_WEIGHT = 20;
export const DICE_WEIGHT = 1;

/** logits [..., H, W]; target and valid broadcastable to it, in {0, 1}. Reduces the last two axes (keeping broadcast shapes). */
export function focalLoss(logits: Tensor, target: Tensor, valid: Tensor): Tensor {
  const axes = [logits.rank - 2, logits.rank - 1];
  const p = op.sigmoid(logits);
  const bce = op.add(op.sub(op.relu(logits), op.mul(logits, target)), op.log(op.add(op.exp(op.neg(op.abs(logits))), 1)));
  // 1 - p_t = p + g - 2 p g (p where the target is 0, 1 - p where it is 1).
  const miss = op.sub(op.add(p, target), op.mul(op.mul(p, target), 2));
  const alphaT = op.add(op.mul(target, 2 * FOCAL_ALPHA - 1), 1 - FOCAL_ALPHA);
  const pixel = op.mul(op.mul(bce, op.mul(miss, miss)), op.mul(alphaT, valid));
  const count = op.reduceSum(valid, axes); // broadcasts against the per-mask sums
  return op.div(op.reduceSum(pixel, axes), op.max(count, 1));
}

/** SAM's (non-squared) dice loss over the last two axes. */
export function diceLoss(logits: Tensor, target: Tensor, valid: Tensor): Tensor {
  const axes = [logits.rank - 2, logits.rank - 1];
  const p = op.mul(op.sigmoid(logits), valid);
  const inter = op.reduceSum(op.mul(p, target), axes);
  const sums = op.add(op.reduceSum(p, axes), op.reduceSum(op.mul(target, valid), axes));
  return op.sub(1, op.div(op.add(op.mul(inter, 2), 1), op.add(sums, 1)));
}

/** FOCAL_WEIGHT * focal + DICE_WEIGHT * dice. */
export function focalDiceLoss(logits: Tensor, target: Tensor, valid: Tensor): Tensor {
  return op.add(op.mul(focalLoss(logits, target, valid), FOCAL_WEIGHT), op.mul(diceLoss(logits, target, valid), DICE_WEIGHT));
}
