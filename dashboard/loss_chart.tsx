// The loss chart: the latest loss and its trend, the range of the shown window, and the recent losses
// as a block chart as wide as the terminal, with the trend (an EMA, loss_trend.ts) drawn over it as
// a line of dots. The history continues across a resume (run_started carries the past losses).

import { formatLoss } from './format.js';
import { type Line, Lines, type Seg, seg } from './lines.js';
import { lossTrend } from './loss_trend.js';
import type { RunState } from './run_state.js';
import { sparkline } from './sparkline.js';

/** The character marking the trend in its row of the chart. */
export const TREND_MARK = '•';

/** One chart row as segments: the bars in magenta, the trend's marks in yellow. */
function rowSegments(bars: string, marks: readonly (number | null)[], row: number): Line {
  const out: Seg[] = [];
  let run = '';
  let runIsMark = false;
  const flush = (): void => {
    if (run) out.push(seg(run, runIsMark ? { color: 'yellow', bold: true } : { color: 'magenta' }));
    run = '';
  };
  [...bars].forEach((ch, i) => {
    const isMark = marks[i] === row;
    if (isMark !== runIsMark) {
      flush();
      runIsMark = isMark;
    }
    run += isMark ? TREND_MARK : ch;
  });
  flush();
  return out;
}

export function lossLines(s: RunState, width: number, height: number): Line[] {
  if (s.losses.length === 0) return [[seg('loss ', { bold: true }), seg('no step yet', { dim: true })]];
  const trend = lossTrend(s.losses);
  const latestTrend = trend[trend.length - 1]!;
  if (height < 2) {
    // One line: the label, then a one-row chart in what is left.
    const label = `loss ${formatLoss(s.loss)} trend ${formatLoss(latestTrend)} `;
    const chart = sparkline(s.losses, Math.max(0, width - label.length), 1);
    return [[seg(label, { bold: true }), seg(chart.lines[0]!, { color: 'magenta' })]];
  }
  const chart = sparkline(s.losses, width, height - 1, trend);
  const label: Line = [
    seg('loss ', { bold: true }),
    seg(formatLoss(s.loss), { bold: true, color: 'magenta' }),
    seg(' trend ', { bold: true }),
    seg(formatLoss(latestTrend), { bold: true, color: 'yellow' }),
    seg(`  last ${chart.shown} steps: min ${formatLoss(chart.min)} max ${formatLoss(chart.max)}`, { dim: true }),
  ];
  return [label, ...chart.lines.map((l, row) => rowSegments(l, chart.overlayRows, row))];
}

export function LossChart({ state, width, height }: { state: RunState; width: number; height: number }) {
  return <Lines lines={lossLines(state, width, height)} width={width} height={height} />;
}
