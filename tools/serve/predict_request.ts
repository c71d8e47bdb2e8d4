// The JSON body of POST /api/predict, checked field by field: every mistake is a 400 naming the
// field and what was expected, so a client never has to guess. Whether the prompt fits the image is
// checked later, once the image's size is known.
//
//   { "image": "<id from POST /api/images>" | "data:image/png;base64,..." | "<base64>",
//     "box": [x0, y0, x1, y1],                       optional, image pixels
//     "points": [{ "x": 10, "y": 20, "label": 1 }],  optional, label 1 positive (default) / 0 negative
//     "multimask": false }                           optional: SAM's 3 masks, the best predicted IoU kept

import type { Box } from '../../shared/data/prompts.js';
import type { PointPrompt } from '../evaluation/predict.js';
import { HttpError } from './http_error.js';
import { errorMessage } from '../../shared/errors/error_message.js';

export interface PredictRequest {
  /** An image the server holds (its id), or the image's bytes. */
  image: { id: string } | { bytes: Buffer };
  box?: Box;
  points: PointPrompt[];
  multimask: boolean;
}

const KEYS = ['image', 'box', 'points', 'multimask'];
const IMAGE_ID = /^[0-9a-f]{64}$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const DATA_URL = /^data:[^,;]*(?:;[^,;]*)*;base64,/i;

function bad(message: string): HttpError {
  return new HttpError(400, 'bad_request', message);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/** Deeper JSON than this is refused before parsing (a valid request is 3 levels deep). */
export const MAX_JSON_DEPTH = 16;
/** Characters of a bad value quoted in an error message. */
const EXCERPT_CHARS = 60;

/**
 * A bad value as an error message shows it: at most EXCERPT_CHARS characters, built without
 * recursion past a few levels (a deeply nested value must not overflow the stack, a huge one must
 * not make a huge message).
 */
export function excerptJson(v: unknown): string {
  const parts: string[] = [];
  let used = 0;
  const put = (t: string): boolean => {
    parts.push(t);
    used += t.length;
    return used < EXCERPT_CHARS;
  };
  const walk = (x: unknown, depth: number): boolean => {
    if (Array.isArray(x) || (typeof x === 'object' && x !== null)) {
      if (depth >= 3) return put(Array.isArray(x) ? '[...]' : '{...}');
      const entries = Array.isArray(x) ? x.map((e) => [undefined, e] as const) : Object.entries(x);
      if (!put(Array.isArray(x) ? '[' : '{')) return false;
      for (const [i, [k, e]] of entries.entries()) {
        if (i > 0 && !put(', ')) return false;
        if (k !== undefined && !put(`${JSON.stringify(k.slice(0, EXCERPT_CHARS))}: `)) return false;
        if (!walk(e, depth + 1)) return false;
      }
      return put(Array.isArray(x) ? ']' : '}');
    }
    return put(typeof x === 'string' ? JSON.stringify(x.slice(0, EXCERPT_CHARS + 1)) : String(JSON.stringify(x) ?? String(x)));
  };
  const complete = walk(v, 0);
  const text = parts.join('');
  return complete && text.length <= EXCERPT_CHARS ? text : `${text.slice(0, EXCERPT_CHARS)}...`;
}

/** Unknown field names as an error message lists them: a few, each cut short. */
function fieldNames(keys: readonly string[]): string {
  const shown = keys.slice(0, 5).map((k) => JSON.stringify(k.length > 40 ? `${k.slice(0, 40)}...` : k));
  return `${shown.join(', ')}${keys.length > 5 ? ` and ${keys.length - 5} more` : ''}`;
}

/** Whether brackets outside strings nest deeper than `limit` (a linear scan, no recursion). */
function nestsDeeperThan(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > limit) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

function parseImage(v: unknown): PredictRequest['image'] {
  if (typeof v !== 'string' || v === '') throw bad('"image" must be a string: an image id from POST /api/images, a data: URL or base64 image bytes');
  if (IMAGE_ID.test(v)) return { id: v };
  const b64 = (DATA_URL.test(v) ? v.slice(v.indexOf(',') + 1) : v).replace(/\s+/g, '');
  if (!BASE64.test(b64)) {
    throw bad('"image" is neither an image id (64 hex digits, from POST /api/images) nor a base64 image (plain or as a data:...;base64, URL)');
  }
  return { bytes: Buffer.from(b64, 'base64') };
}

function parseBox(v: unknown): Box {
  if (!Array.isArray(v) || v.length !== 4 || !v.every(finite)) throw bad(`"box" must be [x0, y0, x1, y1]: four finite numbers (got ${excerptJson(v)})`);
  return [v[0], v[1], v[2], v[3]];
}

function parsePoints(v: unknown, maxPoints: number): PointPrompt[] {
  if (!Array.isArray(v)) throw bad(`"points" must be an array of {"x", "y", "label"} (got ${excerptJson(v)})`);
  if (v.length > maxPoints) throw bad(`too many points: ${v.length} (at most ${maxPoints})`);
  return v.map((p: unknown, i): PointPrompt => {
    if (!isRecord(p) || !finite(p.x) || !finite(p.y)) throw bad(`points[${i}] must be {"x": number, "y": number, "label": 1 or 0} (got ${excerptJson(p)})`);
    const label = p.label ?? 1;
    if (label !== 0 && label !== 1) throw bad(`points[${i}].label must be 1 (positive) or 0 (negative) (got ${excerptJson(p.label)})`);
    const extra = Object.keys(p).filter((k) => !['x', 'y', 'label'].includes(k));
    if (extra.length) throw bad(`points[${i}]: unknown field${extra.length > 1 ? 's' : ''} ${fieldNames(extra)}`);
    return { x: p.x, y: p.y, label };
  });
}

export function parsePredictRequest(body: Buffer, maxPoints: number): PredictRequest {
  if (body.length === 0) throw new HttpError(400, 'empty_body', 'the request body is empty: send a JSON object {"image", "box", "points"}');
  const text = body.toString('utf8');
  if (nestsDeeperThan(text, MAX_JSON_DEPTH)) throw new HttpError(400, 'bad_json', `the request body nests arrays or objects deeper than ${MAX_JSON_DEPTH} levels`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    // V8's message quotes the input around the error: keep it short.
    const message = errorMessage(err);
    throw new HttpError(400, 'bad_json', `the request body is not valid JSON: ${message.length > 120 ? `${message.slice(0, 120)}...` : message}`);
  }
  if (!isRecord(json)) throw new HttpError(400, 'bad_json', 'the request body must be a JSON object {"image", "box", "points"}');
  const unknown = Object.keys(json).filter((k) => !KEYS.includes(k));
  if (unknown.length) throw bad(`unknown field${unknown.length > 1 ? 's' : ''} ${fieldNames(unknown)} (expected ${KEYS.map((k) => `"${k}"`).join(', ')})`);
  if (json.image === undefined) throw bad('missing "image": an image id from POST /api/images, or the image as base64');
  if (json.multimask !== undefined && typeof json.multimask !== 'boolean') throw bad('"multimask" must be true or false');
  const req: PredictRequest = {
    image: parseImage(json.image),
    points: json.points === undefined || json.points === null ? [] : parsePoints(json.points, maxPoints),
    multimask: json.multimask === true,
  };
  if (json.box !== undefined && json.box !== null) req.box = parseBox(json.box);
  if (!req.box && req.points.length === 0) throw new HttpError(400, 'bad_prompt', 'no prompt: give "box": [x0, y0, x1, y1] and/or "points": [{"x", "y", "label"}]');
  return req;
}
