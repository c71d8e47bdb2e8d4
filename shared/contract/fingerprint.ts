// What a worker must match to join a run: the variant, the exact checkpoint bytes, and the LoRA
// layout (which tensors are trained). A worker that differs is refused, with what differs.

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import type { TrainConfig } from '../config/index.js';

export interface Fingerprint {
  variant: string;
  checkpoint_sha256: string;
  lora_layout_hash: string;
}

async function fileSha256(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

export async function modelFingerprint(config: TrainConfig): Promise<Fingerprint> {
  const sha = (s: string): string => createHash('sha256').update(s).digest('hex');
  return {
    variant: JSON.stringify({ variant: config.model.variant, decoderHeads: config.model.decoderHeads }),
    // Generated weights are a function of the seed (model_setup.ts).
    checkpoint_sha256: config.model.checkpoint ? await fileSha256(config.model.checkpoint) : `generated:${config.train.seed + 1}`,
    lora_layout_hash: sha(JSON.stringify({ lora: config.lora, trainDecoder: config.train.trainDecoder })),
  };
}

/** Human-readable differences (empty when the fingerprints match). */
export function fingerprintDifferences(expected: Fingerprint, got: Fingerprint): string[] {
  const out: string[] = [];
  if (expected.variant !== got.variant) out.push(`model variant: coordinator ${expected.variant}, worker ${got.variant}`);
  if (expected.checkpoint_sha256 !== got.checkpoint_sha256) {
    out.push(`checkpoint: coordinator sha256 ${expected.checkpoint_sha256.slice(0, 16)}…, worker ${got.checkpoint_sha256.slice(0, 16)}… (a different file at the configured path)`);
  }
  if (expected.lora_layout_hash !== got.lora_layout_hash) out.push('LoRA layout (targets, rank, blocks or trained decoder) differs');
  return out;
}
