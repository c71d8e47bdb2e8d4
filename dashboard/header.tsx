// The run header: what is being trained (variant, base checkpoint, LoRA rank, device) and the run's
// id and status.

import * as path from 'node:path';
import type { RunState, RunStatus } from './run_state.js';
import { type Line, Lines, seg } from './lines.js';
import { truncateStart } from './format.js';

const STATUS_COLOR: Record<RunStatus, string> = { preparing: 'yellow', running: 'green', completed: 'cyan', stopped: 'yellow', failed: 'red' };

export function headerLines(s: RunState, width: number, height: number): Line[] {
  const i = s.info;
  const status = s.status === 'running' && s.waiting ? 'waiting for workers' : s.status;
  const title: Line = [seg(' sam-lora ', { inverse: true, bold: true }), seg(' '), seg(status, { color: STATUS_COLOR[s.status], bold: true })];
  if (!i) return [[...title, seg('  preparing the run (config, model, datasets)…', { dim: true })]];
  const ckpt = i.checkpoint ? path.basename(i.checkpoint) : 'bundled base model';
  const model: Line = [seg(i.variant, { bold: true }), seg(` · rank ${i.rank} · ${i.device} · batch ${i.batchSize} · `), seg(ckpt, { color: 'cyan' })];
  const run: Line = [seg('  run '), seg(i.runId, { bold: true })];
  if (height >= 2) return [[...title, ...run], model];
  // One line: the model first, the run id where it fits.
  const used = title.reduce((a, x) => a + x.text.length, 0) + 2 + model.reduce((a, x) => a + x.text.length, 0);
  return [[...title, seg('  '), ...model, seg(`  ${truncateStart(i.runId, Math.max(0, width - used - 2))}`, { dim: true })]];
}

export function Header({ state, width, height }: { state: RunState; width: number; height: number }) {
  return <Lines lines={headerLines(state, width, height)} width={width} height={height} />;
}
