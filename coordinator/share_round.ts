// One round of a step's shares, one per worker, with copies for stragglers: when a worker is idle
// (its share answered, or it got none) while another share is still out and late by the idle
// worker's measured pace, the idle worker gets a copy of that share. The first valid answer of a
// share is used; the other copy is abandoned (its answer, when it comes, is ignored), so each
// sample still counts once. The answers are the same per-share sums whichever copy gives them, so
// the step is the same to the bit. Each copy may have a deadline; missing it is a failure.

import { performance } from 'node:perf_hooks';
import type { WorkerEndpoint } from '../shared/contract/worker_endpoint.js';
import { errorMessage } from '../shared/errors/error_message.js';

/** A copy may start only when it is expected to finish this many times its own time ahead of the original. */
export const COPY_SLACK = 1.5;

/**
 * The elapsed time (seconds, of the original share) from which a copy on an idle worker is worth
 * starting. `idleSeconds` is the idle worker's expected time for the share, `originalSeconds` the
 * original worker's. Never before the idle worker's own time has passed (so a fleet of equal
 * workers, all finishing about together, does not do its work twice); then as soon as the
 * original's expected remaining time exceeds COPY_SLACK x the copy's. An original past its
 * expected time is assumed to need as long again as it is late (nothing else is known of it).
 */
export function copyWorthwhileAt(idleSeconds: number, originalSeconds: number, elapsedSeconds: number): number {
  const from = Math.max(elapsedSeconds, idleSeconds);
  if (originalSeconds - from > COPY_SLACK * idleSeconds) return from;
  return Math.max(from, originalSeconds + COPY_SLACK * idleSeconds);
}

/** What is left of a share (seconds), by the same estimate: the later, the more worth copying. */
function remainingEstimate(originalSeconds: number, elapsedSeconds: number): number {
  return Math.abs(originalSeconds - elapsedSeconds);
}

export interface SharePart {
  worker: WorkerEndpoint;
  items: string[];
}

export type CopyOutcome<R> = { ok: true; result: R } | { ok: false; error: unknown };

export interface RoundOptions<R> {
  parts: readonly SharePart[];
  /** Workers of this round that got no share (fewer items than workers): idle from the start. */
  spare?: readonly WorkerEndpoint[];
  task: (w: WorkerEndpoint, items: string[]) => Promise<R>;
  /** Why a result is refused (undefined: accepted). */
  check: (r: R) => string | undefined;
  /** Expected wall seconds for worker `id` to do `n` items, once measured; without it there are no copies. */
  expectedSeconds?: (id: string, n: number) => number | undefined;
  /** The deadline (ms) of `n` items on worker `id`; undefined: none here (the transport's own). */
  deadlineMs?: (id: string, n: number) => number | undefined;
  /** Each accepted answer, abandoned ones included: the worker's wall seconds for `n` items. */
  onAnswer?: (id: string, n: number, seconds: number) => void;
  /** A copy started: `from`'s share now also runs on `to`. */
  onCopy?: (from: string, to: string, items: number) => void;
}

export interface RoundOutcome<R> {
  /** Per part, in the parts' order: the first valid answer and who gave it, or undefined when every copy failed. */
  won: ({ worker: WorkerEndpoint; result: R; copy: boolean } | undefined)[];
  /** Every copy that failed or was refused (its worker is to be evicted). */
  failures: { worker: WorkerEndpoint; reason: string; error?: unknown }[];
  /** Copies still running when their share was answered by the other: what they will come to. */
  abandoned: { worker: WorkerEndpoint; outcome: Promise<CopyOutcome<R>> }[];
}

/** Thrown by a copy whose deadline passed. */
export class ShareDeadlineMissed extends Error {
  override readonly name = 'ShareDeadlineMissed';
}

interface Copy<R> {
  worker: WorkerEndpoint;
  startedAt: number;
  settled: boolean;
  outcome: Promise<CopyOutcome<R>>;
}

interface PartState<R> {
  part: SharePart;
  copies: Copy<R>[];
  done: boolean;
  won?: { worker: WorkerEndpoint; result: R; copy: boolean };
}

/** Races `p` against a deadline; the timer is checked once more after pending I/O is read (a busy loop must not evict). */
function withDeadline<R>(p: Promise<R>, ms: number | undefined, what: () => string): Promise<R> {
  if (ms === undefined) return p;
  return new Promise<R>((resolve, reject) => {
    let settled = false;
    const timer = setTimeout(
      () =>
        setImmediate(() => {
          if (settled) return;
          settled = true;
          reject(new ShareDeadlineMissed(what()));
        }),
      ms,
    );
    p.then(
      (v) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}

function formatMs(ms: number): string {
  return `${(ms / 1000).toFixed(ms < 10_000 ? 2 : 0)} s`;
}

/** Runs the parts (and their copies) until every part has a valid answer or has failed on every copy. */
export function runShareRound<R>(o: RoundOptions<R>): Promise<RoundOutcome<R>> {
  const states: PartState<R>[] = o.parts.map((part) => ({ part, copies: [], done: false }));
  const failures: RoundOutcome<R>['failures'] = [];
  const idle: WorkerEndpoint[] = [...(o.spare ?? [])];
  let timer: NodeJS.Timeout | undefined;
  return new Promise((resolve) => {
    const finishIfDone = (): boolean => {
      if (!states.every((s) => s.done)) return false;
      clearTimeout(timer);
      resolve({
        won: states.map((s) => s.won),
        failures,
        abandoned: states.flatMap((s) => s.copies.filter((c) => !c.settled).map((c) => ({ worker: c.worker, outcome: c.outcome }))),
      });
      return true;
    };

    const start = (s: PartState<R>, w: WorkerEndpoint): void => {
      const n = s.part.items.length;
      const startedAt = performance.now();
      const ms = o.deadlineMs?.(w.id, n);
      const run = withDeadline(
        Promise.resolve().then(() => o.task(w, s.part.items)),
        ms,
        () => `missed its deadline: no answer for ${n} sample(s) within ${formatMs(ms ?? 0)}`,
      );
      const outcome = run.then(
        (result): CopyOutcome<R> => ({ ok: true, result }),
        (error: unknown): CopyOutcome<R> => ({ ok: false, error }),
      );
      const copy: Copy<R> = { worker: w, startedAt, settled: false, outcome };
      s.copies.push(copy);
      void outcome.then((out) => settle(s, copy, out));
    };

    const settle = (s: PartState<R>, c: Copy<R>, out: CopyOutcome<R>): void => {
      c.settled = true;
      const refused = out.ok ? o.check(out.result) : errorMessage(out.error);
      if (out.ok && refused === undefined) o.onAnswer?.(c.worker.id, s.part.items.length, (performance.now() - c.startedAt) / 1000);
      // An abandoned copy: the share was answered already. The caller watches it (see `abandoned`).
      if (s.done) return;
      if (refused === undefined && out.ok) {
        s.done = true;
        s.won = { worker: c.worker, result: out.result, copy: c !== s.copies[0] };
        idle.push(c.worker);
      } else {
        failures.push({ worker: c.worker, reason: refused ?? 'failed', ...(out.ok ? {} : { error: out.error }) });
        if (s.copies.every((x) => x.settled)) s.done = true;
      }
      if (!finishIfDone()) consider();
    };

    // Gives idle workers (fastest first) a copy of the share most worth copying, or waits for the next moment one may be.
    const consider = (): void => {
      clearTimeout(timer);
      timer = undefined;
      const expected = o.expectedSeconds;
      if (!expected || idle.length === 0) return;
      const now = performance.now();
      let next = Infinity;
      const byPace = idle
        .map((w) => ({ w, pace: expected(w.id, 1) }))
        .filter((x): x is { w: WorkerEndpoint; pace: number } => x.pace !== undefined)
        .sort((a, b) => a.pace - b.pace);
      for (const { w } of byPace) {
        let best: { s: PartState<R>; remaining: number } | undefined;
        for (const s of states) {
          if (s.done || s.copies.length !== 1) continue;
          const orig = s.copies[0]!;
          const n = s.part.items.length;
          const idleT = expected(w.id, n)!;
          const origT = expected(orig.worker.id, n) ?? idleT;
          const elapsed = (now - orig.startedAt) / 1000;
          const at = copyWorthwhileAt(idleT, origT, elapsed);
          if (at > elapsed) {
            next = Math.min(next, at - elapsed);
            continue;
          }
          const remaining = remainingEstimate(origT, elapsed);
          if (!best || remaining > best.remaining) best = { s, remaining };
        }
        if (!best) continue;
        idle.splice(idle.indexOf(w), 1);
        o.onCopy?.(best.s.copies[0]!.worker.id, w.id, best.s.part.items.length);
        start(best.s, w);
      }
      if (Number.isFinite(next)) timer = setTimeout(consider, Math.ceil(next * 1000) + 1);
    };

    for (const s of states) start(s, s.part.worker);
    if (!finishIfDone()) consider();
  });
}
