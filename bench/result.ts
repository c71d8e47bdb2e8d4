// The result line every measurement prints and the driver re-prints, and its validation.

import { type MemoryMode, isMemoryMode } from '../shared/sam/memory.js';

export const BENCHES = ['train_step', 'forward'] as const;
export type BenchKind = (typeof BENCHES)[number];

export interface BenchResult {
  bench: BenchKind;
  /** Fixture directory name, or the generated variant's name (vit_b). */
  variant: string;
  /** Images of one step. */
  batch: number;
  /**
   * Images per session run (the graph's static batch): a training step is ceil(batch / micro_batch)
   * runs, their gradients summed, as the worker runs it (train.micro_batch); forward: the batch.
   */
  micro_batch: number;
  threads: number;
  /** The training graph's memory mode (shared/sam/memory.ts); none for today's graph and for forward. */
  memory_mode: MemoryMode;
  /** Median wall time of the measured steps (every session run of a step, and the gradient sums), seconds. */
  median_s: number;
  /**
   * Median CPU seconds of the process per measured step: on a host shared with other work the
   * wall time inflates, this much less.
   */
  cpu_s: number;
  /** process.resourceUsage().maxRSS of the measuring process, bytes. */
  peak_rss_bytes: number;
  /** Bytes one step copies into the session (its feeds) and out of it (its fetches): host-device traffic on a GPU. */
  feed_bytes_per_step: number;
  fetch_bytes_per_step: number;
}

export function median(xs: readonly number[]): number {
  if (!xs.length) throw new Error('median of no values');
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Parses and checks one result line; throws naming what is wrong. */
export function parseResult(line: string): BenchResult {
  const v: unknown = JSON.parse(line);
  if (typeof v !== 'object' || v === null) throw new Error(`result is not a JSON object: ${line}`);
  const r = v as Record<string, unknown>;
  const problems: string[] = [];
  if (!(BENCHES as readonly unknown[]).includes(r.bench)) problems.push(`bench ${String(r.bench)}`);
  if (typeof r.variant !== 'string' || !r.variant) problems.push(`variant ${String(r.variant)}`);
  if (!isMemoryMode(r.memory_mode)) problems.push(`memory_mode ${String(r.memory_mode)}`);
  for (const k of ['batch', 'micro_batch', 'threads', 'peak_rss_bytes', 'feed_bytes_per_step', 'fetch_bytes_per_step'] as const) {
    if (!Number.isInteger(r[k]) || (r[k] as number) <= 0) problems.push(`${k} ${String(r[k])}`);
  }
  if (typeof r.cpu_s !== 'number' || !(r.cpu_s >= 0) || !Number.isFinite(r.cpu_s)) problems.push(`cpu_s ${String(r.cpu_s)}`);
  if (typeof r.median_s !== 'number' || !(r.median_s > 0) || !Number.isFinite(r.median_s)) problems.push(`median_s ${String(r.median_s)}`);
  if (problems.length) throw new Error(`invalid result (${problems.join(', ')}): ${line}`);
  return r as unknown as BenchResult;
}
