// The loss chart's smoothed trend (an EMA drawn over the raw losses) and its history across a resume.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RunEvent, RunInfo } from '../../coordinator/run_events.js';
import { TREND_MARK, lossLines } from '../../dashboard/loss_chart.js';
import { lossTrend } from '../../dashboard/loss_trend.js';
import { initialRunState, reduceRunState } from '../../dashboard/run_state.js';
import { sparkline } from '../../dashboard/sparkline.js';

const INFO: RunInfo = { runId: 'r', variant: 'vit_b', checkpoint: null, rank: 4, device: 'cpu', epochs: 1, stepsPerEpoch: 100, totalSteps: 100, batchSize: 4, startStep: 0, lr: 1e-4 };

const step = (n: number, loss: number): RunEvent => ({ kind: 'step', step: n, epoch: 1, images: 4, loss, lr: 1e-4, skipped: !Number.isFinite(loss), timing: { stepSeconds: 1, reduceSeconds: 0, waitForSlowestSeconds: 0, workers: [] } });
const text = (line: readonly { text: string }[]): string => line.map((s) => s.text).join('');

describe('loss trend', () => {
  it('is an EMA: starts at the first finite loss, passes over skipped steps, damps the noise', () => {
    assert.deepEqual(lossTrend([Number.NaN, 1, 2, Number.NaN, 2], 0.5), [Number.NaN, 1, 1.5, 1.5, 1.75]);
    // Alternating noise around a falling line: the trend falls and swings far less than the losses.
    const losses = Array.from({ length: 200 }, (_, i) => 1 - i / 400 + (i % 2 ? 0.2 : -0.2));
    const t = lossTrend(losses);
    assert.ok(t[199]! < t[50]! - 0.3, `falls: ${t[50]} -> ${t[199]}`);
    const swing = Math.max(...t.slice(150).map((v, i, a) => (i ? Math.abs(v - a[i - 1]!) : 0)));
    assert.ok(swing < 0.05, `step-to-step swing ${swing} (the losses swing 0.4)`);
  });

  it('is drawn over the bars, one mark a column in the row its value falls in', () => {
    const losses = [4, 0, 4, 0, 4, 0, 4, 0];
    const chart = sparkline(losses, 8, 4, [2, 2, 2, 2, 2, 2, 2, 4]);
    assert.deepEqual(chart.overlayRows, [1, 1, 1, 1, 1, 1, 1, 0], 'just above the middle of 4 rows (as a bar of that height), and the top row for the maximum');
    let s = reduceRunState(initialRunState(), { kind: 'run_started', info: INFO }, 0);
    losses.forEach((l, i) => (s = reduceRunState(s, step(i + 1, l), i)));
    const lines = lossLines(s, 8, 5);
    assert.match(text(lines[0]!), /^loss 0\.0000 trend \d\.\d{4} /);
    const marks = lines.slice(1).map((l) => [...text(l)].filter((c) => c === TREND_MARK).length);
    assert.equal(marks.reduce((a, b) => a + b, 0), 8, `one mark per column: ${lines.slice(1).map(text).join(' | ')}`);
    assert.ok(lines.slice(1).some((l) => l.some((sg) => sg.text.includes(TREND_MARK) && sg.color === 'yellow')), 'marks in their own colour');
  });
});

describe('loss history across a resume', () => {
  it('run_started with the past losses continues the chart where the run left off', () => {
    const past = [0.9, 0.8, 0.7];
    let s = reduceRunState(initialRunState(), { kind: 'run_started', info: { ...INFO, startStep: 3 }, pastLosses: past }, 0);
    assert.deepEqual(s.losses, past);
    assert.equal(s.loss, 0.7);
    s = reduceRunState(s, step(4, 0.6), 1);
    assert.deepEqual(s.losses, [0.9, 0.8, 0.7, 0.6]);
    assert.match(text(lossLines(s, 40, 3)[0]!), /last 4 steps/);
    // A new run starts empty.
    assert.deepEqual(reduceRunState(initialRunState(), { kind: 'run_started', info: INFO, pastLosses: [] }, 0).losses, []);
  });
});
