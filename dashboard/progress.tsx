// Progress: the current epoch and the whole run as bars, with the ETA, throughput, learning rate and
// the share of step time beyond compute.

import { progressBar } from './bar.js';
import { formatDuration, formatLr, formatRate } from './format.js';
import { type Line, Lines, seg } from './lines.js';
import { type RunState, liveWorkers } from './run_state.js';

function barLine(label: string, fraction: number, suffix: string, width: number, color: string): Line {
  const cells = Math.max(4, width - label.length - suffix.length - 3);
  return [seg(label, { bold: true }), seg(' '), seg(progressBar(fraction, cells), { color }), seg(' '), seg(suffix)];
}

export function progressLines(s: RunState, width: number): Line[] {
  const i = s.info;
  if (!i) return [[seg('waiting for the run to start…', { dim: true })]];
  const total = i.totalSteps;
  const perEpoch = Math.max(1, i.stepsPerEpoch);
  const epoch = Math.max(0, Math.min(s.epoch - 1, i.epochs - 1)); // 0-based, for the arithmetic
  const inEpoch = Math.min(perEpoch, Math.max(0, s.step - epoch * perEpoch));
  const epochDigits = String(i.epochs).length;
  const stepDigits = String(total).length;
  const epochLabel = `epoch ${String(epoch + 1).padStart(epochDigits)}/${i.epochs}`;
  const stepLabel = `step ${String(s.step).padStart(stepDigits)}/${total}`;
  const label = (x: string): string => x.padEnd(Math.max(epochLabel.length, stepLabel.length));
  const pct = total > 0 ? Math.floor((100 * s.step) / total) : 100;
  // Fixed-width suffixes keep the bars the same length from one frame to the next.
  // While it waits for workers the run is not training: no ETA to show (the wait is kept out of it).
  const eta = (s.status === 'running' ? (s.waiting ? 'waiting' : `eta ${formatDuration(s.etaSeconds)}`) : s.status).padEnd(10);
  const workers = liveWorkers(s);
  const stats: Line = [
    seg(`${formatRate(s.imagesPerSecond)} img/s`, { bold: true }),
    seg(` · lr ${formatLr(s.lr)}${s.lossScale !== null ? ` · loss scale ${s.lossScale}` : ''} · workers ${workers}/${Math.max(workers, s.peakWorkers)}`),
    // Time beyond compute (transfers, reduction, optimizer): what more workers cost.
    ...(s.overheadFraction !== null ? [seg(` · overhead ${Math.round(100 * s.overheadFraction)}%`)] : []),
    ...(s.skippedSteps ? [seg(` · ${s.skippedSteps} skipped`, { color: 'yellow' })] : []),
    ...(s.lastCheckpoint ? [seg(` · ckpt ${s.lastCheckpoint.name}`, { dim: true })] : []),
  ];
  return [
    barLine(label(epochLabel), inEpoch / perEpoch, `${String(inEpoch).padStart(String(perEpoch).length)}/${perEpoch}`, width, 'blue'),
    barLine(label(stepLabel), total > 0 ? s.step / total : 1, `${String(pct).padStart(3)}% ${eta}`, width, 'green'),
    stats,
  ];
}

export function Progress({ state, width, height }: { state: RunState; width: number; height: number }) {
  return <Lines lines={progressLines(state, width)} width={width} height={height} />;
}
