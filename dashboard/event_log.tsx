// The event log: the newest joins, evictions, checkpoints, evaluations and warnings, one line each,
// under a title rule.

import { clock } from './format.js';
import { type Line, Lines, seg } from './lines.js';
import type { EventLevel } from './event_text.js';
import type { RunState } from './run_state.js';

const LEVEL_COLOR: Record<EventLevel, string | undefined> = { info: undefined, warn: 'yellow', error: 'red' };

export function eventLines(s: RunState, width: number, rows: number): Line[] {
  const title = `events ${'─'.repeat(Math.max(0, width - 7))}`;
  const entries = rows > 0 ? s.log.slice(-rows) : [];
  return [
    [seg(title, { dim: true })],
    ...entries.map((e): Line => [seg(`${clock(e.at)} `, { dim: true }), seg(e.text.replace(/\s*\n\s*/g, ' '), { color: LEVEL_COLOR[e.level] })]),
  ];
}

export function EventLog({ state, width, rows }: { state: RunState; width: number; rows: number }) {
  return <Lines lines={eventLines(state, width, rows)} width={width} height={rows + 1} />;
}
