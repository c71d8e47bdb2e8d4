// A progress bar of a fixed number of cells, with eighth-cell resolution so slow runs visibly move.

const PARTIAL = ['', '▏', '▎', '▍', '▌', '▋', '▊', '▉'];

export function progressBar(fraction: number, cells: number): string {
  if (cells <= 0) return '';
  const f = Number.isFinite(fraction) ? Math.min(1, Math.max(0, fraction)) : 0;
  const eighths = Math.round(f * cells * 8);
  const full = Math.floor(eighths / 8);
  const part = full < cells ? PARTIAL[eighths % 8]! : '';
  return '█'.repeat(full) + part + '·'.repeat(cells - full - (part ? 1 : 0));
}
