// Checks, when a distributed run starts, that every sample's files fit one message of the wire:
// samples travel to workers one per message, so a sample over the limit could never be delivered.
// Found at the start, the run fails at once naming the samples, instead of mid-run.

import { stat } from 'node:fs/promises';
import type { Dataset, SampleRef } from '../shared/data/dataset.js';

/** Room kept for everything in a sample message besides its files (ids, names, the envelope). */
export const SAMPLE_MESSAGE_OVERHEAD_BYTES = 16 * 1024;

export class OversizeSamplesError extends Error {
  override readonly name = 'OversizeSamplesError';
}

async function sampleBytes(ref: SampleRef): Promise<number> {
  let n = (await stat(ref.imagePath)).size;
  if (ref.maskPath) n += (await stat(ref.maskPath)).size;
  // COCO annotations travel as fields; their JSON text is a fair upper bound of their encoding.
  if (ref.coco) n += JSON.stringify(ref.coco).length;
  return n;
}

/** Throws OversizeSamplesError naming (up to 5 of) the samples whose files exceed `maxMessageBytes` less the overhead. */
export async function checkSampleSizes(splits: Record<string, Dataset | undefined>, maxMessageBytes: number): Promise<void> {
  const limit = maxMessageBytes - SAMPLE_MESSAGE_OVERHEAD_BYTES;
  const over: string[] = [];
  let count = 0;
  for (const [split, ds] of Object.entries(splits)) {
    const refs = ds?.samples ?? [];
    // A bounded number of stat calls in flight.
    for (let i = 0; i < refs.length; i += 64) {
      const sizes = await Promise.all(refs.slice(i, i + 64).map(sampleBytes));
      sizes.forEach((n, j) => {
        if (n <= limit) return;
        count++;
        if (over.length < 5) over.push(`${split} sample ${refs[i + j]!.id} (${n} bytes)`);
      });
    }
  }
  if (count) {
    throw new OversizeSamplesError(
      `${count} sample(s) are larger than one message can carry (${limit} bytes: the ${maxMessageBytes}-byte message limit less ${SAMPLE_MESSAGE_OVERHEAD_BYTES} of overhead): ${over.join(', ')}${count > over.length ? ', ...' : ''}; shrink those files (e.g. a smaller image, or JPEG instead of PNG)`,
    );
  }
}
