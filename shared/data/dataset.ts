// Datasets: finding the samples of a dataset directory (reference layout, instance-label masks, or
// COCO JSON) and loading one sample as an RGB image plus its object masks.
//
// openDataset only lists files (and parses a COCO file); it throws only when there is no dataset to
// speak of (a missing directory, an unrecognisable layout, no images at all). Everything wrong with
// individual files (an image without a mask, a mask without an image, a truncated JPEG, a mask of the
// wrong size or empty) is found by scanDataset (scan.ts), which lists every problem at once; load()
// of a bad sample throws a DataError naming the file, so a training loop can count and skip it.
//
// Sample ids are the image's path relative to the dataset directory with '/' separators
// ("images/ring1.jpg"; COCO: the file_name), so they are stable across runs and machines (per-sample
// randomness is seeded by them, see sample_rng.ts).
//
// Loading is split in two so a coordinator can read files and ship bytes to a worker without a shared
// filesystem: readBytes(ref) -> SampleBytes (plain data: Buffers, strings, the COCO annotations), and
// loadSampleFromBytes(bytes), which needs nothing but the bytes. load(ref) is the two in sequence.

import { readdir, readFile, stat } from 'node:fs/promises';
import { existsSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { DataError, type DataProblem, fsDataError } from './errors.js';
import { decodeImage, type RgbImage } from './image_io.js';
import type { BinaryMask } from './masks.js';
import { type CocoImageInfo, cocoAnnotationCandidates, cocoImageDirCandidates, cocoObjects, listCoco } from './formats/coco.js';
import { readInstanceMasks } from './formats/instance_labels.js';
import { listReferenceLayout, looksLikeReferenceLayout, readBinaryMask } from './formats/reference_layout.js';

export type { BinaryMask } from './masks.js';
export type { RgbImage } from './image_io.js';
export type { CocoImageInfo } from './formats/coco.js';

/**
 * reference: images/ + masks/, one binary object per mask (pixels >= 128 after the mask rules of image_io.ts);
 * instance: the same layout, masks are instance labels (one object per distinct non-zero value);
 * coco: images plus a COCO instances JSON (polygons and RLE).
 */
export type DatasetFormat = 'reference' | 'instance' | 'coco';

/** A sample before it is read. JSON-serialisable. */
export interface SampleRef {
  /** Stable, unique within the dataset: the image path relative to the dataset directory. */
  id: string;
  imagePath: string;
  /** reference / instance: the mask file, absent when the image has none (the scan reports it). */
  maskPath?: string;
  /** coco: the declared size and annotations of this image. */
  coco?: CocoImageInfo;
}

export interface LoadedSample {
  id: string;
  /** 8-bit RGB, HWC, EXIF orientation applied. */
  image: RgbImage;
  /** At least one; each has the image's size, data in {0, 1}; `label`: instance label or COCO category. */
  objects: BinaryMask[];
}

/** Everything needed to load a sample, without a filesystem (what a coordinator ships to a worker). */
export interface SampleBytes {
  format: DatasetFormat;
  id: string;
  /** Path of the image, used in error messages. */
  imageName: string;
  image: Buffer;
  maskName?: string;
  mask?: Buffer;
  coco?: CocoImageInfo;
}

export interface Dataset {
  /** The dataset directory (absolute). */
  root: string;
  format: DatasetFormat;
  /** The COCO annotation file (coco only). */
  annotations?: string;
  /** Every candidate sample, including ones the scan will reject (e.g. images without masks). */
  samples: SampleRef[];
  /** Structural problems found while listing (masks without images, duplicate names, bad annotations); the scan reports them. */
  problems: DataProblem[];
  /** Files deliberately left out, with why (hidden files, non-image extensions, COCO images without annotations). */
  ignored: { file: string; reason: string }[];
  /** COCO category names by id (empty for the other formats). */
  categories: Map<number, string>;
  load(ref: SampleRef): Promise<LoadedSample>;
  readBytes(ref: SampleRef): Promise<SampleBytes>;
  loadFromBytes(bytes: SampleBytes): Promise<LoadedSample>;
}

export interface OpenDatasetOptions {
  /** The dataset (split) directory; for COCO also accepted: the annotation .json itself. */
  path: string;
  /** Default 'auto': images/ + masks/ is 'reference' (binary masks), else a COCO .json found for the directory is 'coco'. */
  format?: 'auto' | DatasetFormat;
  /** COCO: the annotation file (default: found beside or inside the directory, see findCocoAnnotations). */
  annotations?: string;
  /** COCO: include iscrowd annotations as objects (default false). */
  includeCrowd?: boolean;
}

async function readOrThrow(file: string, what: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (err) {
    throw fsDataError(file, err, what);
  }
}

/** Reads a sample's files (DataError 'missing' / 'unreadable' naming the file). */
export async function readSampleBytes(format: DatasetFormat, ref: SampleRef): Promise<SampleBytes> {
  const image = await readOrThrow(ref.imagePath, 'image');
  const out: SampleBytes = { format, id: ref.id, imageName: ref.imagePath, image };
  if (ref.maskPath !== undefined) {
    out.maskName = ref.maskPath;
    out.mask = await readOrThrow(ref.maskPath, 'mask');
  }
  if (ref.coco !== undefined) out.coco = ref.coco;
  return out;
}

/** Where the mask of a reference-layout image would be, for messages: "masks/a/1.<ext>". */
function expectedMask(id: string): string {
  const rel = id.startsWith('images/') ? id.slice('images/'.length) : id;
  return `masks/${rel.slice(0, rel.length - path.posix.extname(rel).length)}.<ext>`;
}

/** Decodes a sample from its bytes; DataError naming the file for anything wrong with it. */
export async function loadSampleFromBytes(bytes: SampleBytes): Promise<LoadedSample> {
  const { format, id, imageName } = bytes;
  if (format === 'coco') {
    if (!bytes.coco) throw new DataError(imageName, 'COCO sample without annotations', 'no_objects');
    const info = bytes.coco;
    const image = await decodeImage(bytes.image, imageName);
    if (image.width !== info.width || image.height !== info.height) {
      throw new DataError(
        imageName,
        `image is ${image.width}x${image.height} but ${path.basename(info.annotationFile)} declares ${info.width}x${info.height} (annotations would not line up)`,
        'size_mismatch',
      );
    }
    const objects = cocoObjects(info, id);
    if (objects.length === 0) throw new DataError(imageName, `no annotation of this image has a non-empty mask (${info.annotationFile})`, 'no_objects');
    return { id, image, objects };
  }
  if (!bytes.mask) throw new DataError(imageName, `image has no mask (expected ${expectedMask(id)})`, 'missing_mask');
  const maskName = bytes.maskName ?? `${imageName} (mask)`;
  const image = await decodeImage(bytes.image, imageName);
  const objects = format === 'instance' ? await readInstanceMasks(bytes.mask, maskName, image) : [await readBinaryMask(bytes.mask, maskName, image)];
  return { id, image, objects };
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

async function listNames(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort();
  } catch {
    return [];
  }
}

/** " (it holds the splits train, test: pass one of them, e.g. <dir>/train)" when subdirectories look like datasets. */
async function splitHint(dir: string): Promise<string> {
  const splits: string[] = [];
  for (const name of await listNames(dir)) {
    const sub = path.join(dir, name);
    if (!isDir(sub)) continue;
    if ((await looksLikeReferenceLayout(sub)) || (await listNames(sub)).some((f) => f.toLowerCase().endsWith('.json'))) splits.push(name);
  }
  if (splits.length === 0) {
    const names = (await listNames(dir)).slice(0, 12);
    return names.length === 0 ? ' (the directory is empty)' : ` (it holds: ${names.join(', ')})`;
  }
  return `; it holds the splits ${splits.join(', ')}: pass one of them, e.g. ${path.join(dir, splits[0]!)}`;
}

/** The COCO annotation files that may belong to `dir` (inside it, <dir>.json, ../annotations/instances_<dir>.json). */
export function findCocoAnnotations(dir: string): Promise<string[]> {
  return cocoAnnotationCandidates(dir, listNames, existsSync);
}

function makeDataset(fields: Omit<Dataset, 'load' | 'readBytes' | 'loadFromBytes'>): Dataset {
  const format = fields.format;
  return {
    ...fields,
    readBytes: (ref) => readSampleBytes(format, ref),
    loadFromBytes: (bytes) => loadSampleFromBytes(bytes),
    load: async (ref) => loadSampleFromBytes(await readSampleBytes(format, ref)),
  };
}

async function openReference(root: string, format: 'reference' | 'instance'): Promise<Dataset> {
  if (!(await looksLikeReferenceLayout(root))) {
    const missing = ['images', 'masks'].filter((d) => !isDir(path.join(root, d)));
    throw new DataError(
      root,
      `not a ${format}-layout dataset: no ${missing.map((d) => `${d}/`).join(' or ')} directory (expected images/* and masks/* with the same base names)${await splitHint(root)}`,
      'layout',
    );
  }
  const listing = await listReferenceLayout(root);
  if (listing.pairs.length === 0 && listing.problems.every((p) => p.code === 'orphan_mask')) {
    throw new DataError(path.join(root, 'images'), `no images found (looked for ${['.jpg', '.png', '.tif', '.webp', '.bmp'].join(' ')} and similar)`, 'no_images');
  }
  const samples: SampleRef[] = listing.pairs.map((p) => (p.maskPath ? { id: p.id, imagePath: p.imagePath, maskPath: p.maskPath } : { id: p.id, imagePath: p.imagePath }));
  return makeDataset({ root, format, samples, problems: listing.problems, ignored: listing.ignored, categories: new Map() });
}

async function openCoco(root: string, annotationFile: string, includeCrowd: boolean): Promise<Dataset> {
  const listing = await listCoco(annotationFile, cocoImageDirCandidates(annotationFile, root), { includeCrowd, exists: existsSync });
  if (listing.images.length === 0) {
    const why = listing.ignored.length > 0 ? `none of its ${listing.ignored.length} images has a usable annotation` : 'it lists no images';
    throw new DataError(annotationFile, `no samples: ${why}`, 'no_images');
  }
  const samples: SampleRef[] = listing.images.map((im) => ({ id: im.fileName, imagePath: im.imagePath, coco: im.info }));
  return makeDataset({ root: listing.imageDir, format: 'coco', annotations: annotationFile, samples, problems: listing.problems, ignored: listing.ignored, categories: listing.categories });
}

/** Opens a dataset directory (see OpenDatasetOptions); throws DataError when there is no dataset there. */
export async function openDataset(opts: OpenDatasetOptions): Promise<Dataset> {
  const format = opts.format ?? 'auto';
  const target = path.resolve(opts.path);
  let st;
  try {
    st = await stat(target);
  } catch (err) {
    throw fsDataError(target, err, 'dataset directory');
  }
  const annotations = opts.annotations !== undefined ? path.resolve(opts.annotations) : undefined;
  if (st.isFile()) {
    if (target.toLowerCase().endsWith('.json') && (format === 'auto' || format === 'coco')) {
      return openCoco(path.dirname(target), target, opts.includeCrowd ?? false);
    }
    throw new DataError(target, 'is a file: expected a dataset directory (or, for COCO, the annotation .json)', 'layout');
  }
  if (format === 'reference' || format === 'instance') return openReference(target, format);
  if (annotations !== undefined) return openCoco(target, annotations, opts.includeCrowd ?? false);
  if (format === 'auto' && (await looksLikeReferenceLayout(target))) return openReference(target, 'reference');
  const candidates = await findCocoAnnotations(target);
  if (candidates.length === 1) return openCoco(target, candidates[0]!, opts.includeCrowd ?? false);
  if (candidates.length > 1) {
    throw new DataError(target, `several COCO annotation files found (${candidates.map((c) => path.basename(c)).join(', ')}): choose one with the annotations option`, 'layout');
  }
  const expected =
    format === 'coco'
      ? 'no COCO annotation file found: pass it with the annotations option (looked for *.json inside the directory, <dir>.json, ../annotations/instances_<dir>.json)'
      : 'cannot tell the dataset format: expected images/ and masks/ (reference layout) or a COCO .json inside the directory';
  throw new DataError(target, `${expected}${await splitHint(target)}`, 'layout');
}
