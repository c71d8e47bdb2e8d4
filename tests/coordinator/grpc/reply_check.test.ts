import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkEvalReply, checkStepReply } from '../../../coordinator/grpc/reply_check.js';
import type * as pb from '../../../shared/wire/messages.js';

const assigned = ['a', 'b', 'c'];
function header(over: Partial<pb.StepResultHeader> = {}): pb.StepResultHeader {
  return {
    step: 3,
    weight_sum: 3,
    loss_sum: 1.5,
    samples: [
      { id: 'a', loss: 0.5, weight: 1 },
      { id: 'b', loss: 0.5, weight: 2 },
    ],
    failed: [{ id: 'c', reason: 'unreadable' }],
    compute_seconds: 0.25,
    grads: [],
    weights_hash: 'ab12',
    peak_rss_bytes: 123456789,
    overflow: false,
    ...over,
  };
}

describe('step replies', () => {
  it('an honest reply passes (an image without objects has weight 0 and a NaN loss)', () => {
    checkStepReply(header(), assigned);
    checkStepReply(header({ samples: [{ id: 'a', loss: Number.NaN, weight: 0 }, { id: 'b', loss: 0.5, weight: 3 }] }), assigned);
  });
  const lies: [string, Partial<pb.StepResultHeader>, RegExp][] = [
    ['NaN weight_sum', { weight_sum: Number.NaN }, /weight_sum is NaN/],
    ['negative weight_sum', { weight_sum: -1 }, /weight_sum is -1, below 0/],
    ['infinite loss_sum', { loss_sum: Number.POSITIVE_INFINITY }, /loss_sum is Infinity/],
    ['negative loss_sum', { loss_sum: -2 }, /loss_sum is -2/],
    ['NaN compute_seconds', { compute_seconds: Number.NaN }, /compute_seconds is NaN/],
    ['negative peak_rss_bytes', { peak_rss_bytes: -5 }, /peak_rss_bytes is -5, below 0/],
    ['negative sample weight', { samples: [{ id: 'a', loss: 0.5, weight: -1 }, { id: 'b', loss: 0.5, weight: 4 }] }, /weight of sample "a" is -1/],
    ['NaN sample loss with weight', { samples: [{ id: 'a', loss: Number.NaN, weight: 1 }, { id: 'b', loss: 0.5, weight: 2 }] }, /loss of sample "a" is NaN/],
    ['negative sample loss', { samples: [{ id: 'a', loss: -3, weight: 1 }, { id: 'b', loss: 0.5, weight: 2 }] }, /loss of sample "a" is -3/],
    ['weight_sum that is not the sum', { weight_sum: 30 }, /weight_sum 30 is not the sum/],
    ['an id never assigned', { failed: [{ id: 'zz\n\u001b[31m', reason: '' }] }, /sample "zz\\\\u000a\\\\u001b\[31m" was not assigned/],
    ['an id twice', { failed: [{ id: 'a', reason: '' }] }, /sample "a" is reported twice/],
    ['an id left out', { failed: [] }, /1 assigned sample\(s\) are missing from the reply \("c"\)/],
    ['a hash that is not hex', { weights_hash: 'zz\n' }, /weights_hash is not a hex digest/],
  ];
  for (const [name, over, re] of lies) it(`refuses ${name}`, () => assert.throws(() => checkStepReply(header(over), assigned), re));
});

describe('fp16 overflow replies', () => {
  const overflow = (over: Partial<pb.StepResultHeader> = {}): pb.StepResultHeader =>
    header({ overflow: true, loss_sum: Number.NaN, samples: [{ id: 'a', loss: Number.POSITIVE_INFINITY, weight: 1 }, { id: 'b', loss: Number.NaN, weight: 2 }], ...over });
  it('pass for a step with a loss scale, without gradients, non-finite losses allowed', () => {
    checkStepReply(overflow(), assigned, { scaled: true });
    checkStepReply(overflow({ loss_sum: 1.5 }), assigned, { scaled: true });
  });
  it('are refused for a step without a loss scale (an fp32 run: no overflow to report)', () => {
    assert.throws(() => checkStepReply(overflow(), assigned), /overflow reported for a step without a loss scale/);
  });
  it('are refused with gradients, with a finite loss below the floor, or with bad weights and ids', () => {
    assert.throws(() => checkStepReply(overflow({ grads: [{ name: 'w', shape: [2] }] }), assigned, { scaled: true }), /an overflow reply lists gradients/);
    assert.throws(() => checkStepReply(overflow({ loss_sum: -2 }), assigned, { scaled: true }), /loss_sum is -2/);
    assert.throws(() => checkStepReply(overflow({ weight_sum: Number.NaN }), assigned, { scaled: true }), /weight_sum is NaN/);
    assert.throws(() => checkStepReply(overflow({ failed: [] }), assigned, { scaled: true }), /missing from the reply/);
  });
  it('a non-overflow reply keeps every check under a loss scale', () => {
    assert.throws(() => checkStepReply(header({ loss_sum: Number.NaN }), assigned, { scaled: true }), /loss_sum is NaN/);
  });
});

describe('evaluation replies', () => {
  const ok: pb.EvalResult = { request_id: 1, scores: [{ id: 'a', dice: 0.5, iou: 0.25, objects: 2 }, { id: 'b', dice: Number.NaN, iou: Number.NaN, objects: 0 }], failed: [{ id: 'c', reason: 'x' }] };
  it('an honest reply passes', () => checkEvalReply(ok, assigned));
  it('refuses scores out of range, NaN scores with objects, bad counts and foreign ids', () => {
    assert.throws(() => checkEvalReply({ ...ok, scores: [{ id: 'a', dice: 1.5, iou: 0, objects: 1 }, ok.scores[1]!] }, assigned), /dice of sample "a" is 1.5/);
    assert.throws(() => checkEvalReply({ ...ok, scores: [{ id: 'a', dice: Number.NaN, iou: 0, objects: 1 }, ok.scores[1]!] }, assigned), /dice of sample "a" is NaN/);
    assert.throws(() => checkEvalReply({ ...ok, scores: [{ id: 'a', dice: 0, iou: 0, objects: -1 }, ok.scores[1]!] }, assigned), /object count of sample "a" is -1/);
    assert.throws(() => checkEvalReply({ ...ok, failed: [{ id: 'other', reason: '' }] }, assigned), /"other" was not assigned/);
  });
});
