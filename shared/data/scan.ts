// The dataset scan: before training, every sample is checked once and ALL problems are reported
// together, with file names, instead of the run dying on the first bad file hours in.
//
// Per sample: the image is readable and decodes (header via sharp's metadata() for the size, then a
// decode at a reduced size, which still reads every byte: a truncated JPEG passes metadata() but not
// this); its mask exists, decodes fully (needed for the emptiness check), has the image's size (both
// after EXIF orientation) and holds at least one object; COCO: the declared size matches and at least
// one annotation rasterises to a non-empty mask. The structural problems found by openDataset (masks
// without images, duplicate names, invalid annotations) are reported too.
//
// policy 'fail' (default): any problem throws one DatasetScanError listing every problem.
// policy 'skip': returns the good samples and the problems (`skipped`); throws only if no sample is good.

import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import * as path from 'node:path';
import type { Dataset, SampleRef } from './dataset.js';
import { DataError, type DataProblem, fsDataError } from './errors.js';
import { countCocoObjects } from './formats/coco.js';
import { readInstanceMasks } from './formats/instance_labels.js';
import { readBinaryMask } from './formats/reference_layout.js';
import { inspectImage } from './image_io.js';
import { errorMessage } from '../errors/error_message.js';

export type ScanPolicy = 'fail' | 'skip';

export interface ScanResult {
  /** The samples that passed, in dataset order. */
  samples: SampleRef[];
  /** Every problem (policy 'skip'): one entry per problem, a sample may have several. Empty when all is well. */
  skipped: DataProblem[];
  /** Ids of the samples left out (policy 'skip'). */
  skippedIds: string[];
}

export interface ScanOptions {
  /** Samples checked at once (default: min(8, available CPUs)). */
  concurrency?: number;
  onProgress?: (done: number, total: number) => void;
}

/** The scan found problems (policy 'fail'), or no usable sample at all (policy 'skip'). */
export class DatasetScanError extends Error {
  override readonly name = 'DatasetScanError';
  readonly root: string;
  readonly problems: DataProblem[];

  constructor(root: string, problems: DataProblem[], total: number, badSamples: number, policy: ScanPolicy) {
    const lines = problems.map((p) => `  ${p.file}: ${p.reason}`);
    const head =
      policy === 'skip'
        ? `dataset ${root}: no usable sample; all ${total} have problems (${problems.length}):`
        : `dataset ${root}: ${problems.length} problem(s), ${badSamples} of ${total} samples affected:`;
    const tail = policy === 'fail' ? "\nFix or remove these files, or scan with policy 'skip' to train on the others." : '';
    super(`${head}\n${lines.join('\n')}${tail}`);
    this.root = root;
    this.problems = problems;
  }
}

async function readOrProblem(file: string, what: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    throw fsDataError(file, err, what);
  }
}

/** The problems of one sample (empty when it is good). Never throws for a bad file. */
export async function checkSample(ds: Dataset, ref: SampleRef): Promise<DataProblem[]> {
  const problems: DataProblem[] = [];
  const note = (err: unknown) => {
    if (err instanceof DataError) problems.push(err.toProblem(ref.id));
    else problems.push({ file: ref.imagePath, reason: `unexpected error: ${errorMessage(err)}`, code: 'corrupt', sampleId: ref.id });
  };
  const imageCheck = (async () => inspectImage(await readOrProblem(ref.imagePath, 'image'), ref.imagePath))().catch((err: unknown) => {
    note(err);
    return undefined;
  });
  if (ds.format === 'coco') {
    const info = ref.coco;
    if (!info) {
      problems.push({ file: ref.imagePath, reason: 'COCO sample without annotations', code: 'no_objects', sampleId: ref.id });
      return problems;
    }
    try {
      if (countCocoObjects(info, ref.id) === 0) {
        problems.push({ file: ref.imagePath, reason: `no annotation of this image has a non-empty mask (${info.annotationFile})`, code: 'no_objects', sampleId: ref.id });
      }
    } catch (err) {
      note(err);
    }
    const image = await imageCheck;
    if (image && (image.width !== info.width || image.height !== info.height)) {
      problems.push({
        file: ref.imagePath,
        reason: `image is ${image.width}x${image.height} but ${path.basename(info.annotationFile)} declares ${info.width}x${info.height} (annotations would not line up)`,
        code: 'size_mismatch',
        sampleId: ref.id,
      });
    }
    return problems;
  }
  if (ref.maskPath === undefined) {
    const rel = ref.id.replace(/^images\//, '');
    problems.push({ file: ref.imagePath, reason: `image has no mask (expected masks/${rel.slice(0, rel.length - path.posix.extname(rel).length)}.<ext>)`, code: 'missing_mask', sampleId: ref.id });
    await imageCheck;
    return problems;
  }
  let mask: Buffer | undefined;
  try {
    mask = await readOrProblem(ref.maskPath, 'mask');
  } catch (err) {
    note(err);
  }
  const image = await imageCheck;
  if (mask !== undefined) {
    try {
      // Without a readable image, the mask is still checked (decodes, not empty) against its own size.
      const frame = image ?? (await maskSize(mask, ref.maskPath));
      if (ds.format === 'instance') await readInstanceMasks(mask, ref.maskPath, frame);
      else await readBinaryMask(mask, ref.maskPath, frame);
    } catch (err) {
      note(err);
    }
  }
  return problems;
}

/** The oriented size of a mask, used to check a mask alone when its image is unreadable. */
async function maskSize(mask: Buffer, name: string): Promise<{ width: number; height: number }> {
  const info = await inspectImage(mask, name);
  return { width: info.width, height: info.height };
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  });
  await Promise.all(workers);
  return out;
}

/** Checks every sample of the dataset (see the top of this file). */
export async function scanDataset(ds: Dataset, policy: ScanPolicy = 'fail', opts: ScanOptions = {}): Promise<ScanResult> {
  const total = ds.samples.length;
  let done = 0;
  const perSample = await mapLimit(ds.samples, opts.concurrency ?? Math.min(8, availableParallelism()), async (ref) => {
    const p = await checkSample(ds, ref);
    opts.onProgress?.(++done, total);
    return p;
  });
  // Structural problems first (they are about the dataset's shape), then per sample in dataset order.
  const problems: DataProblem[] = [...ds.problems, ...perSample.flat()];
  const bad = new Set<string>();
  for (const p of problems) if (p.sampleId !== undefined) bad.add(p.sampleId);
  const samples = ds.samples.filter((s) => !bad.has(s.id));
  const badSamples = ds.samples.length - samples.length;
  if (policy === 'fail' && problems.length > 0) throw new DatasetScanError(ds.root, problems, total, badSamples, 'fail');
  if (samples.length === 0) throw new DatasetScanError(ds.root, problems, total, badSamples, 'skip');
  return { samples, skipped: problems, skippedIds: ds.samples.filter((s) => bad.has(s.id)).map((s) => s.id) };
}
