// How the training graph trades compute for memory (config keys train.memory and
// train.attention_chunk_mb): which encoder blocks are recomputed in the backward pass instead of
// keeping their intermediates, and how large one piece of a global attention map may be.

export const MEMORY_MODES = ['none', 'global', 'all'] as const;
/** none: keep every activation; global: recompute the global-attention blocks; all: every block. */
export type MemoryMode = (typeof MEMORY_MODES)[number];

export interface MemoryOptions {
  mode: MemoryMode;
  /**
   * Bytes of float32 attention map per chunk in recomputed global blocks: queries are taken a few
   * heads and rows at a time, each chunk recomputed in the backward pass, so the full probability
   * matrix never exists at once.
   */
  attentionChunkBytes: number;
}

/** The configuration's defaults (README, "Training-step memory", has the measurements behind them). */
export const DEFAULT_MEMORY_MODE: MemoryMode = 'all';
export const DEFAULT_ATTENTION_CHUNK_MB = 16;

export const NO_RECOMPUTE: MemoryOptions = { mode: 'none', attentionChunkBytes: DEFAULT_ATTENTION_CHUNK_MB * 2 ** 20 };

/** Options from the configuration's train.memory and train.attention_chunk_mb. */
export function memoryOptions(mode: MemoryMode, attentionChunkMb: number): MemoryOptions {
  return { mode, attentionChunkBytes: attentionChunkMb * 2 ** 20 };
}

export function isMemoryMode(v: unknown): v is MemoryMode {
  return typeof v === 'string' && (MEMORY_MODES as readonly string[]).includes(v);
}

/** Parses a memory mode, or throws naming where it came from and the accepted values. */
export function parseMemoryMode(v: string, source: string): MemoryMode {
  if (!isMemoryMode(v)) throw new Error(`${source}: memory mode must be one of ${MEMORY_MODES.join(', ')} (got ${JSON.stringify(v)})`);
  return v;
}

/** Whether block i (global attention or not) is recomputed under the mode. */
export function recomputesBlock(mode: MemoryMode, global: boolean): boolean {
  return mode === 'all' || (mode === 'global' && global);
}
