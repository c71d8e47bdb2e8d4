import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CHECK_MODEL, compareRuns, medianStepSeconds, type RunResult, runTrainingCheck } from '../../doctor/device_check.js';

function run(losses: number[], grads: number[][]): RunResult {
  return {
    steps: losses.map((loss) => ({ loss, seconds: 0.01 })),
    params: [],
    grads: grads.map((g) => new Map([['t', Float32Array.from(g)]])),
    transfer: { feedBytes: 0, fetchBytes: 0 },
    placement: {},
    cpuOps: [],
  };
}

describe('doctor: the training check', () => {
  it('compares losses (relative) and gradients (relative L2), naming the worst tensor and step', () => {
    const ref = run([2, 1], [[3, 4], [1, 0]]);
    assert.deepEqual(compareRuns(ref, ref), { lossRel: 0, gradRelL2: 0, worstGrad: 't (step 1)' });
    const other = run([2.02, 1], [[3, 4], [1, 0.1]]);
    const a = compareRuns(other, ref);
    assert.ok(Math.abs(a.lossRel - 0.01) < 1e-9);
    assert.ok(Math.abs(a.gradRelL2 - 0.1) < 1e-6);
    assert.equal(a.worstGrad, 't (step 2)');
    assert.equal(compareRuns(run([Number.NaN, 1], [[3, 4], [1, 0]]), ref).lossRel, Number.POSITIVE_INFINITY);
    assert.equal(medianStepSeconds([{ loss: 0, seconds: 9 }, { loss: 0, seconds: 1 }, { loss: 0, seconds: 3 }]), 2);
  });

  it('trains the tiny variant on the CPU: loss goes down, bytes per step are the feeds and fetches, a rerun on the same parameters agrees', async () => {
    const ref = await runTrainingCheck({ device: { kind: 'cpu' }, steps: 3, threads: 1 });
    const l = ref.steps.map((s) => s.loss);
    assert.ok(l.every(Number.isFinite) && l[2]! < l[0]!, l.join(' -> '));
    const img = CHECK_MODEL.img;
    const loraFloats = CHECK_MODEL.depth * 2 * 2 * 4 * CHECK_MODEL.dim; // blocks x (q, v) x (A, B) x rank x dim
    // images, gt, valid (batch 2), box tokens (coords 2x2x2, one-hot labels 2x2x5), weights, LoRA.
    assert.equal(ref.transfer.feedBytes, 4 * (2 * 3 * img * img + 2 * 2 * img * img + 8 + 20 + 2 + loraFloats));
    assert.ok(ref.transfer.fetchBytes >= 4 * (loraFloats + 1), String(ref.transfer.fetchBytes));
    assert.ok((ref.placement.CPUExecutionProvider ?? 0) > 100, JSON.stringify(ref.placement));
    const again = await runTrainingCheck({ device: { kind: 'cpu' }, steps: 3, threads: 2, params: ref.params });
    const a = compareRuns(again, ref);
    assert.ok(a.lossRel < 1e-6 && a.gradRelL2 < 1e-5, JSON.stringify(a));
    await assert.rejects(runTrainingCheck({ device: { kind: 'cpu' }, steps: 4, params: ref.params }), /the reference has 3 steps, 4 asked/);
  });
});
