// The loss chart: the most recent values as a block-character chart of `rows` lines (eight levels a
// line), scaled between the shown values' minimum and maximum. Non-finite values (skipped steps)
// show as gaps.

const LEVELS = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

export interface Chart {
  lines: string[];
  min: number;
  max: number;
  /** How many values are drawn (the last ones). */
  shown: number;
}

export function sparkline(values: readonly number[], width: number, rows: number): Chart {
  const shown = values.slice(Math.max(0, values.length - Math.max(0, width)));
  const finite = shown.filter(Number.isFinite);
  const min = finite.length ? Math.min(...finite) : 0;
  const max = finite.length ? Math.max(...finite) : 0;
  const steps = rows * 8;
  // Height of each column in eighths of a row: at least one eighth, so the minimum still shows.
  const heights = shown.map((v) => (Number.isFinite(v) ? (max > min ? 1 + Math.round(((v - min) / (max - min)) * (steps - 1)) : Math.ceil(steps / 2)) : 0));
  const lines: string[] = [];
  for (let r = rows - 1; r >= 0; r--) {
    lines.push(
      heights
        .map((h) => {
          const inRow = h - r * 8;
          return inRow <= 0 ? ' ' : inRow >= 8 ? LEVELS[7]! : LEVELS[inRow - 1]!;
        })
        .join(''),
    );
  }
  return { lines, min, max, shown: shown.length };
}
