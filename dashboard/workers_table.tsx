// The workers table: one row per worker (live ones first) with its host, device, state, last step
// time, images/s, peak memory (host RSS), last loss and failures. Narrow terminals drop the least important columns; more
// workers than rows end in a "+N more" row.

import { formatLoss, formatMemory, formatRate, formatStepTime, truncate, truncateStart } from './format.js';
import { type Line, Lines, seg } from './lines.js';
import { type RunState, type WorkerRow, type WorkerState, liveWorkers } from './run_state.js';

interface Column {
  title: string;
  width: number;
  /** Lower goes first when the terminal is too narrow. */
  keep: number;
  right?: boolean;
  cell: (w: WorkerRow) => string;
}

const COLUMNS: Column[] = [
  { title: 'host', width: 12, keep: 1, cell: (w) => truncate(w.host, 12) },
  { title: 'device', width: 7, keep: 3, cell: (w) => truncate(w.device, 7) },
  { title: 'state', width: 6, keep: 5, cell: (w) => w.state },
  { title: 'step', width: 6, keep: 4, right: true, cell: (w) => formatStepTime(w.stepSeconds) },
  { title: 'img/s', width: 6, keep: 6, right: true, cell: (w) => formatRate(w.imagesPerSecond) },
  { title: 'mem', width: 6, keep: 3.5, right: true, cell: (w) => formatMemory(w.peakRssBytes) },
  { title: 'loss', width: 8, keep: 7, right: true, cell: (w) => formatLoss(w.lastLoss) },
  { title: 'fail', width: 4, keep: 2, right: true, cell: (w) => String(w.failures) },
];

const ID_MIN = 8;
const STATE_COLOR: Record<WorkerState, string | undefined> = { active: 'green', idle: undefined, joined: 'cyan', left: 'red' };
const ORDER: Record<WorkerState, number> = { active: 0, idle: 1, joined: 2, left: 3 };

/** The columns that fit `width` next to an id column of at least ID_MIN. */
function fitColumns(width: number): Column[] {
  let cols = [...COLUMNS];
  const need = (cs: Column[]): number => ID_MIN + cs.reduce((a, c) => a + c.width + 1, 0);
  while (cols.length && need(cols) > width) {
    const drop = cols.reduce((a, c) => (c.keep < a.keep ? c : a));
    cols = cols.filter((c) => c !== drop);
  }
  return cols;
}

export function workerLines(s: RunState, width: number, rows: number): Line[] {
  const cols = fitColumns(width);
  const idWidth = Math.max(ID_MIN, Math.min(24, width - cols.reduce((a, c) => a + c.width + 1, 0)));
  const cell = (c: Column, text: string): string => ' ' + (c.right ? text.padStart(c.width) : text.padEnd(c.width));
  const live = liveWorkers(s);
  const sorted = [...s.workers].sort((a, b) => ORDER[a.state] - ORDER[b.state]);
  const room = rows - (s.waiting ? 1 : 0);
  const overflow = sorted.length > room;
  // More workers than rows: the last row says how many more, or (one row only) the title does.
  const moreRow = overflow && room >= 2;
  const shown = overflow ? sorted.slice(0, Math.max(0, moreRow ? room - 1 : room)) : sorted;
  const hidden = sorted.length - shown.length;
  const title = `workers ${live}/${Math.max(live, s.peakWorkers)}${hidden && !moreRow ? ` +${hidden}` : ''}`;
  const header: Line = [seg(truncate(title, idWidth).padEnd(idWidth), { bold: true }), seg(cols.map((c) => cell(c, c.title)).join(''), { dim: true })];
  const lines: Line[] = [header];
  if (s.waiting) lines.push([seg(`waiting for workers: ${s.waiting.live} connected, ${s.waiting.needed} needed`, { color: 'yellow' })]);
  for (const w of shown) {
    lines.push([
      seg(truncateStart(w.id, idWidth).padEnd(idWidth), { bold: w.state !== 'left', dim: w.state === 'left' }),
      ...cols.map((c) => seg(cell(c, c.cell(w)), c.title === 'state' ? { color: STATE_COLOR[w.state] } : c.title === 'fail' && w.failures > 0 ? { color: 'red' } : { dim: w.state === 'left' })),
    ]);
  }
  if (moreRow) {
    const rest = sorted.slice(shown.length);
    const gone = rest.filter((w) => w.state === 'left').length;
    lines.push([seg(`+${rest.length} more${gone ? ` (${gone} left)` : ''}`, { dim: true })]);
  }
  if (s.workers.length === 0 && !s.waiting) lines.push([seg('no worker has joined yet', { dim: true })]);
  return lines;
}

export function WorkersTable({ state, width, rows }: { state: RunState; width: number; rows: number }) {
  return <Lines lines={workerLines(state, width, rows)} width={width} height={rows + 1} />;
}
