// Strings from a peer (failure reasons, error messages, device names) end up in train.log, the
// terminal and the dashboard. A hostile peer must not be able to start a new log line, move the
// cursor or recolour the terminal, nor flood the log: control characters (C0, DEL, C1), line and
// paragraph separators and bidirectional overrides are written as \uXXXX, and the text is cut.

// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** Longest peer string kept by default (characters); the rest is replaced by a count. */
export const WIRE_TEXT_MAX = 300;

/** `s` with unsafe characters escaped, cut to `max` characters (saying how much was cut). */
export function wireText(s: string, max = WIRE_TEXT_MAX): string {
  const cut = s.length > max ? s.slice(0, max) : s;
  const safe = cut.replace(UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return s.length > max ? `${safe}... (${s.length - max} more characters)` : safe;
}
