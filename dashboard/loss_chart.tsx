// The loss chart: the latest loss, the range of the shown window, and the recent losses as a
// block chart as wide as the terminal.

import { formatLoss } from './format.js';
import { type Line, Lines, seg } from './lines.js';
import type { RunState } from './run_state.js';
import { sparkline } from './sparkline.js';

export function lossLines(s: RunState, width: number, height: number): Line[] {
  if (s.losses.length === 0) return [[seg('loss ', { bold: true }), seg('no step yet', { dim: true })]];
  if (height < 2) {
    // One line: the label, then a one-row chart in what is left.
    const label = `loss ${formatLoss(s.loss)} `;
    const chart = sparkline(s.losses, Math.max(0, width - label.length), 1);
    return [[seg(label, { bold: true }), seg(chart.lines[0]!, { color: 'magenta' })]];
  }
  const chart = sparkline(s.losses, width, height - 1);
  const label: Line = [
    seg('loss ', { bold: true }),
    seg(formatLoss(s.loss), { bold: true, color: 'magenta' }),
    seg(`  last ${chart.shown} steps: min ${formatLoss(chart.min)} max ${formatLoss(chart.max)}`, { dim: true }),
  ];
  return [label, ...chart.lines.map((l) => [seg(l, { color: 'magenta' })])];
}

export function LossChart({ state, width, height }: { state: RunState; width: number; height: number }) {
  return <Lines lines={lossLines(state, width, height)} width={width} height={height} />;
}
