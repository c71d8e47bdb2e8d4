// Number and text formatting for a fixed-width terminal: every field has a bounded width, and text
// is cut (with an ellipsis) rather than wrapped, so the dashboard's regions never change height.

export function formatDuration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  return `${h}h${String(m % 60).padStart(2, '0')}m`;
}

/** 3 significant figures, no exponent for ordinary rates: 0.512, 12.3, 1234. */
export function formatRate(x: number | null): string {
  if (x === null || !Number.isFinite(x)) return '-';
  if (x >= 100) return x.toFixed(0);
  if (x >= 10) return x.toFixed(1);
  return x.toFixed(2);
}

export function formatLoss(x: number | null): string {
  if (x === null) return '-';
  if (!Number.isFinite(x)) return String(x);
  return Math.abs(x) >= 1000 ? x.toExponential(2) : x.toFixed(4);
}

export function formatLr(x: number | null): string {
  return x === null ? '-' : x.toExponential(1);
}

/** A signed change, "+0.0213" / "-0.0100". */
export function formatDelta(d: number): string {
  return `${d >= 0 ? '+' : '-'}${Math.abs(d).toFixed(4)}`;
}

/** Cuts `s` to `width` columns, ending in "…" when cut. */
export function truncate(s: string, width: number): string {
  if (width <= 0) return '';
  if (s.length <= width) return s;
  return width === 1 ? '…' : `${s.slice(0, width - 1)}…`;
}

/** Cuts from the left ("…/long/path/file"), for paths and ids whose end matters most. */
export function truncateStart(s: string, width: number): string {
  if (width <= 0) return '';
  if (s.length <= width) return s;
  return width === 1 ? '…' : `…${s.slice(s.length - width + 1)}`;
}

/** Local wall-clock time, HH:MM:SS. */
export function clock(ms: number): string {
  const d = new Date(ms);
  return [d.getHours(), d.getMinutes(), d.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
}

/** Bytes of memory in at most 6 columns: "812M", "2.97G", "11.2G". */
export function formatMemory(bytes: number | null): string {
  if (bytes === null || !Number.isFinite(bytes) || bytes < 0) return '-';
  const mib = bytes / 2 ** 20;
  if (mib < 1000) return `${Math.round(mib)}M`;
  const gib = bytes / 2 ** 30;
  return gib < 10 ? `${gib.toFixed(2)}G` : gib < 1000 ? `${gib.toFixed(1)}G` : `${Math.round(gib)}G`;
}

/** A step's duration in at most 6 columns: "3ms", "0.41s", "20.4s", "3m05s". */
export function formatStepTime(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '-';
  if (seconds < 0.1) return `${Math.round(seconds * 1000)}ms`;
  if (seconds < 10) return `${seconds.toFixed(2)}s`;
  if (seconds < 60) return `${seconds.toFixed(1)}s`;
  return formatDuration(seconds);
}
