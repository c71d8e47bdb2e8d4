// The dashboard's one drawing primitive: a region of exactly `height` lines, each cut to `width`
// columns. Regions never wrap or grow, so a frame has the same shape from one update to the next
// (no flicker, no line left behind) on any terminal width.

import { Box, Text } from 'ink';
import { truncate } from './format.js';

/** A run of text in one style. */
export interface Seg {
  text: string;
  color?: string;
  bold?: boolean;
  dim?: boolean;
  inverse?: boolean;
}

export type Line = Seg[];

export const seg = (text: string, style: Omit<Seg, 'text'> = {}): Seg => ({ text, ...style });

/** The line cut to `width` columns (the cut segment ends in "…"). */
export function fitLine(line: Line, width: number): Line {
  const out: Line = [];
  let left = width;
  for (const s of line) {
    if (left <= 0) break;
    if (s.text.length <= left) {
      out.push(s);
      left -= s.text.length;
    } else {
      out.push({ ...s, text: truncate(s.text, left) });
      left = 0;
    }
  }
  return out;
}

export function Lines({ lines, width, height }: { lines: readonly Line[]; width: number; height: number }) {
  const shown = lines.slice(0, height);
  while (shown.length < height) shown.push([]);
  return (
    <Box flexDirection="column" width={width} height={height} flexShrink={0}>
      {shown.map((line, i) => (
        <Text key={i} wrap="truncate-end">
          {fitLine(line, width).map((s, j) => (
            <Text key={j} color={s.color} bold={s.bold} dimColor={s.dim} inverse={s.inverse}>
              {s.text}
            </Text>
          ))}
          {line.length === 0 ? ' ' : ''}
        </Text>
      ))}
    </Box>
  );
}
