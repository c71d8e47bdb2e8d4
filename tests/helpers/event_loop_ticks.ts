// How freely the event loop ran while an async call was in progress: a 5 ms interval timer's ticks
// and the longest pause between them. A call that blocks the loop (ORT in-process) shows one long
// pause and few ticks; one that computes elsewhere (a worker thread) keeps the timer ticking.

import { performance } from 'node:perf_hooks';

export interface Timed<T> {
  value: T;
  /** Longest interval between consecutive ticks of a 5 ms setInterval (call start and end included). */
  maxGapMs: number;
  ticks: number;
  wallMs: number;
}

export async function withTicks<T>(fn: () => Promise<T>): Promise<Timed<T>> {
  const stamps = [performance.now()];
  const timer = setInterval(() => stamps.push(performance.now()), 5);
  let value: T;
  try {
    value = await fn();
    stamps.push(performance.now());
  } finally {
    clearInterval(timer);
  }
  let maxGapMs = 0;
  for (let i = 1; i < stamps.length; i++) maxGapMs = Math.max(maxGapMs, stamps[i]! - stamps[i - 1]!);
  return { value, maxGapMs, ticks: stamps.length - 2, wallMs: stamps.at(-1)! - stamps[0]! };
}
