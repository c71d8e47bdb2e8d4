// The latest held-out evaluation: Dice and IoU with their change since the previous evaluation and
// since before training (green up, red down), and where the best Dice was.

import { formatDelta } from './format.js';
import { type Line, Lines, type Seg, seg } from './lines.js';
import type { EvalPoint, RunState } from './run_state.js';

function trend(now: number, then: EvalPoint | null, key: 'dice' | 'iou', label: string): Seg[] {
  if (!then) return [];
  const d = now - then[key];
  const arrow = d > 0 ? '▲' : d < 0 ? '▼' : '=';
  return [seg(` ${arrow}${formatDelta(d)}`, { color: d > 0 ? 'green' : d < 0 ? 'red' : undefined }), seg(` ${label}`, { dim: true })];
}

function metricLine(name: string, key: 'dice' | 'iou', s: RunState, latest: EvalPoint): Line {
  // The previous evaluation, or the one before training when this is the first.
  const previous = s.evalPrevious ?? s.evalBefore;
  const vsBefore = s.evalPrevious && s.evalBefore ? trend(latest[key], s.evalBefore, key, 'vs before') : [];
  return [seg(name.padEnd(5), { bold: true }), seg(latest[key].toFixed(4), { bold: true }), ...trend(latest[key], previous, key, s.evalPrevious ? 'vs prev' : 'vs before'), ...vsBefore];
}

export function evalLines(s: RunState, height: number): Line[] {
  const latest = s.evalLatest;
  if (!latest) {
    const b = s.evalBefore;
    return [[seg('eval ', { bold: true }), seg(b ? `before training: Dice ${b.dice.toFixed(4)} IoU ${b.iou.toFixed(4)}` : 'no evaluation yet', { dim: !b })]];
  }
  const where = latest.phase === 'after' ? 'after training' : `step ${latest.step}`;
  const best = s.evalBest ? `best Dice ${s.evalBest.dice.toFixed(4)} @ step ${s.evalBest.step}` : '';
  const dice = [...metricLine('Dice', 'dice', s, latest), seg(`  (${where})`, { dim: true })];
  const iou = [...metricLine('IoU', 'iou', s, latest), ...(best ? [seg(`  ${best}`, { dim: true })] : [])];
  return height >= 2 ? [dice, iou] : [dice];
}

export function EvalPanel({ state, width, height }: { state: RunState; width: number; height: number }) {
  return <Lines lines={evalLines(state, height)} width={width} height={height} />;
}
