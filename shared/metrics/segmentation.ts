// Dice and IoU of binary masks (used by evaluation at the original image resolution).

export interface SegScores {
  dice: number;
  iou: number;
}

/** pred: logits (thresholded at 0, SAM's mask_threshold) or probabilities > 0.5 when `probabilities`; gt in {0, 1}. */
export function segScores(pred: ArrayLike<number>, gt: ArrayLike<number>, threshold = 0): SegScores {
  if (pred.length !== gt.length) throw new Error(`segScores: prediction has ${pred.length} pixels, ground truth ${gt.length}`);
  let inter = 0;
  let p = 0;
  let g = 0;
  for (let i = 0; i < gt.length; i++) {
    const a = pred[i]! > threshold ? 1 : 0;
    const b = gt[i]! > 0.5 ? 1 : 0;
    inter += a & b;
    p += a;
    g += b;
  }
  const union = p + g - inter;
  // Both empty: a perfect prediction of nothing.
  if (p + g === 0) return { dice: 1, iou: 1 };
  return { dice: (2 * inter) / (p + g), iou: inter / union };
}

export function meanScores(scores: readonly SegScores[]): SegScores {
  if (scores.length === 0) return { dice: Number.NaN, iou: Number.NaN };
  return {
    dice: scores.reduce((s, x) => s + x.dice, 0) / scores.length,
    iou: scores.reduce((s, x) => s + x.iou, 0) / scores.length,
  };
}
