// What a worker's reply may claim. Its numbers feed the step's mean (weights, losses) and its ids
// feed the per-epoch ledger, so a reply is refused (and its sender evicted, its samples given to
// the others) when a number is not finite or out of range, or when it names a sample it was not
// given, names one twice, or leaves one out. An fp16 overflow is the one result allowed non-finite
// losses, and only for a step that carried a loss scale.

import type * as pb from '../../shared/wire/messages.js';
import { wireText } from '../../shared/wire/wire_text.js';

/** The longest weights hash accepted (a hex SHA-256 is 64 characters). */
const MAX_HASH_CHARS = 128;
/** The most workers one result or group size may claim (an aggregator's group). */
export const MAX_GROUP_WORKERS = 4096;
/** Losses may come out a hair below zero from float rounding (1 - dice); anything lower is a lie. */
const LOSS_FLOOR = -1e-4;

/**
 * Throws, naming the field, when a step result header cannot be true for the samples assigned.
 * `scaled`: the step carried a loss scale (an fp16 run), the only case an overflow may be reported;
 * an overflow carries no gradients, and its losses may be non-finite (fp16 activations overflowed).
 */
export function checkStepReply(h: pb.StepResultHeader, assigned: readonly string[], o: { scaled: boolean } = { scaled: false }): void {
  if (h.overflow && !o.scaled) throw new Error('overflow reported for a step without a loss scale (not an fp16 run)');
  if (h.overflow && h.grads.length > 0) throw new Error('an overflow reply lists gradients');
  finiteAtLeast('weight_sum', h.weight_sum, 0);
  if (!h.overflow || Number.isFinite(h.loss_sum)) finiteAtLeast('loss_sum', h.loss_sum, LOSS_FLOOR);
  finiteAtLeast('compute_seconds', h.compute_seconds, 0);
  finiteAtLeast('peak_rss_bytes', h.peak_rss_bytes, 0);
  if (h.workers !== undefined && !(Number.isInteger(h.workers) && h.workers >= 0 && h.workers <= MAX_GROUP_WORKERS)) throw new Error(`workers is ${h.workers}, not a count from 0 to ${MAX_GROUP_WORKERS}`);
  if (h.weights_hash.length > MAX_HASH_CHARS || !/^[0-9a-f]*$/i.test(h.weights_hash)) throw new Error(`weights_hash is not a hex digest (${quote(h.weights_hash)})`);
  let weights = 0;
  for (const s of h.samples) {
    finiteAtLeast(`the weight of sample ${quote(s.id)}`, s.weight, 0);
    // An image without objects has weight 0 and no mean loss (NaN); any other loss must be a number.
    if (!(s.weight === 0 && Number.isNaN(s.loss)) && !(h.overflow && !Number.isFinite(s.loss))) finiteAtLeast(`the loss of sample ${quote(s.id)}`, s.loss, LOSS_FLOOR);
    weights += s.weight;
  }
  if (Math.abs(weights - h.weight_sum) > 1e-3 * Math.max(1, weights)) throw new Error(`weight_sum ${h.weight_sum} is not the sum of the samples' weights (${weights})`);
  coversExactly([...h.samples.map((s) => s.id), ...h.failed.map((f) => f.id)], assigned);
}

/** Throws when an aggregator's group size is not a count the coordinator can believe. */
export function checkGroupSize(g: pb.GroupSize): void {
  if (!(Number.isInteger(g.workers) && g.workers >= 0 && g.workers <= MAX_GROUP_WORKERS)) throw new Error(`group_size.workers is ${g.workers}, not a count from 0 to ${MAX_GROUP_WORKERS}`);
}

/** Throws, naming the field, when an evaluation result cannot be true for the samples assigned. */
export function checkEvalReply(r: pb.EvalResult, assigned: readonly string[]): void {
  for (const s of r.scores) {
    if (!(Number.isInteger(s.objects) && s.objects >= 0)) throw new Error(`the object count of sample ${quote(s.id)} is ${s.objects}`);
    for (const [field, v] of [['dice', s.dice], ['iou', s.iou]] as const) {
      // No object: no score (NaN), as meanScores gives for an empty list.
      if (s.objects === 0 && Number.isNaN(v)) continue;
      if (!(Number.isFinite(v) && v >= 0 && v <= 1)) throw new Error(`the ${field} of sample ${quote(s.id)} is ${v}, not in [0, 1]`);
    }
  }
  coversExactly([...r.scores.map((s) => s.id), ...r.failed.map((f) => f.id)], assigned);
}

function finiteAtLeast(field: string, v: number, min: number): void {
  if (!(Number.isFinite(v) && v >= min)) throw new Error(`${field} is ${v}${Number.isFinite(v) ? `, below ${min}` : ''}`);
}

/** Every assigned id exactly once, nothing else. */
function coversExactly(reported: readonly string[], assigned: readonly string[]): void {
  const open = new Set(assigned);
  for (const id of reported) {
    if (!open.has(id)) throw new Error(assigned.includes(id) ? `sample ${quote(id)} is reported twice` : `sample ${quote(id)} was not assigned to this worker`);
    open.delete(id);
  }
  if (open.size) throw new Error(`${open.size} assigned sample(s) are missing from the reply (${quote([...open][0]!)}${open.size > 1 ? ', ...' : ''})`);
}

function quote(s: string): string {
  return JSON.stringify(wireText(s, 80));
}
