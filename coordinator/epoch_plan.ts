// The order of samples in an epoch (a seeded shuffle of the sample ids, the same on every run and
// every machine) and the accounting that proves every sample was trained exactly once.

import { Rng } from '../shared/random/rng.js';
import { hashString } from '../shared/data/sample_rng.js';

/** Fisher-Yates shuffle seeded by (seed, epoch). */
export function epochOrder(ids: readonly string[], seed: number, epoch: number): string[] {
  const rng = new Rng(hashString(`order|${seed}|${epoch}`));
  const out = [...ids];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng.next() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

export interface EpochAccount {
  /** Counted from 1. */
  epoch: number;
  samples_trained: number;
  duplicates: number;
  missing: number;
  failed: number;
}

/** Counts, per epoch, which samples came back from workers. */
export class EpochLedger {
  private readonly seen = new Map<string, number>();
  private failedCount = 0;

  constructor(
    readonly epoch: number,
    private readonly planned: readonly string[],
  ) {}

  record(id: string): void {
    this.seen.set(id, (this.seen.get(id) ?? 0) + 1);
  }

  recordFailed(id: string): void {
    this.failedCount++;
    this.record(id);
  }

  /** Restores counts from a checkpoint (resume mid-epoch). */
  restore(ids: readonly string[]): void {
    for (const id of ids) this.record(id);
  }

  trainedIds(): string[] {
    return [...this.seen.keys()];
  }

  account(): EpochAccount {
    let duplicates = 0;
    for (const n of this.seen.values()) duplicates += n - 1;
    const missing = this.planned.filter((id) => !this.seen.has(id)).length;
    // Counted from 1, as everything people read (the ledger's own `epoch` is the 0-based index).
    return { epoch: this.epoch + 1, samples_trained: this.seen.size, duplicates, missing, failed: this.failedCount };
  }
}
