// The loss chart: the most recent values as a block-character chart of `rows` lines (eight levels a
// line), scaled between the shown values' minimum and maximum. Non-finite values (skipped steps)
// show as gaps. An overlay (the trend) gets, per column, the row it falls in on the same scale.

const LEVELS = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

export interface Chart {
  lines: string[];
  min: number;
  max: number;
  /** How many values are drawn (the last ones). */
  shown: number;
  /** Per drawn column, the row (0: the top line) the overlay's value falls in; null where it is not finite. */
  overlayRows: (number | null)[];
}

/** `overlay`, when given, is aligned with `values` (same length); it is clamped to the chart's range. */
export function sparkline(values: readonly number[], width: number, rows: number, overlay?: readonly number[]): Chart {
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
  const over = overlay ? overlay.slice(Math.max(0, overlay.length - shown.length)) : [];
  const overlayRows = over.map((v) => {
    if (!Number.isFinite(v)) return null;
    const level = max > min ? Math.min(1, Math.max(0, (v - min) / (max - min))) : 0.5;
    // The row holding the top of a column of this height (eighths, as the bars).
    const eighths = 1 + Math.round(level * (steps - 1));
    return rows - 1 - Math.floor((eighths - 1) / 8);
  });
  return { lines, min, max, shown: shown.length, overlayRows };
}
