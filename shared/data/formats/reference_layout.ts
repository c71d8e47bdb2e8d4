// The reference layout: <split>/images/<name>.<ext> with <split>/masks/<name>.<ext'> (same relative
// path without the extension; either side may use any image extension, and subdirectories are
// followed, e.g. images/a/1.jpg <-> masks/a/1.png). Used for binary masks (format 'reference') and
// instance-label masks (format 'instance'); how a mask is read is the loader's business, not this file's.
//
// Listing never reads pixels. Files whose extension is not an image's, and hidden files (".DS_Store"),
// are ignored (and reported in `ignored`). Images without a mask stay samples (maskPath undefined: the
// scan lists them, load() throws 'missing_mask'); masks without an image, and two files with the same
// base name on one side, are structural problems, reported but never samples.

import type { Dirent } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import * as path from 'node:path';
import { DataError, type DataProblem, fsDataError } from '../errors.js';
import { decodeMask } from '../image_io.js';
import { binarize, type BinaryMask, checkMaskSize, countOn, type FrameSize, MASK_THRESHOLD } from '../masks.js';

/** Extensions (lower case) of the files we read as images or masks. */
export const IMAGE_EXTENSIONS: ReadonlySet<string> = new Set(['.jpg', '.jpeg', '.jpe', '.png', '.tif', '.tiff', '.webp', '.bmp', '.dib', '.gif', '.avif']);

export function hasImageExtension(file: string): boolean {
  return IMAGE_EXTENSIONS.has(path.extname(file).toLowerCase());
}

export interface LayoutPair {
  /** Image path relative to the split directory, with '/' separators: "images/a/1.jpg". */
  id: string;
  imagePath: string;
  maskPath?: string;
}

export interface LayoutListing {
  pairs: LayoutPair[];
  problems: DataProblem[];
  /** Files left out: hidden files, files without an image extension. */
  ignored: { file: string; reason: string }[];
}

async function isDirectory(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory();
  } catch {
    return false;
  }
}

/** Whether `dir` holds images/ and masks/ directories. */
export async function looksLikeReferenceLayout(dir: string): Promise<boolean> {
  return (await isDirectory(path.join(dir, 'images'))) && (await isDirectory(path.join(dir, 'masks')));
}

/** Every file under `dir`, as paths relative to it with '/' separators, sorted. */
async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  const visit = async (rel: string) => {
    let entries: Dirent[];
    try {
      entries = await readdir(path.join(dir, rel), { withFileTypes: true });
    } catch (err) {
      throw fsDataError(path.join(dir, rel), err, 'directory');
    }
    for (const e of entries) {
      const r = rel === '' ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory()) await visit(r);
      else out.push(r);
    }
  };
  await visit('');
  return out.sort();
}

const stem = (rel: string) => rel.slice(0, rel.length - path.posix.extname(rel).length);
const isHidden = (rel: string) => rel.split('/').some((part) => part.startsWith('.'));

function groupByStem(files: string[], ignored: LayoutListing['ignored'], base: string): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  for (const rel of files) {
    if (isHidden(rel)) {
      ignored.push({ file: path.join(base, rel), reason: 'hidden file' });
      continue;
    }
    if (!hasImageExtension(rel)) {
      ignored.push({ file: path.join(base, rel), reason: `not an image file extension (${[...IMAGE_EXTENSIONS].join(' ')})` });
      continue;
    }
    const key = stem(rel);
    const g = groups.get(key);
    if (g) g.push(rel);
    else groups.set(key, [rel]);
  }
  return groups;
}

/** Lists the image/mask pairs of a split directory in the reference layout. */
export async function listReferenceLayout(dir: string): Promise<LayoutListing> {
  const imagesDir = path.join(dir, 'images');
  const masksDir = path.join(dir, 'masks');
  for (const [d, what] of [
    [imagesDir, 'images'],
    [masksDir, 'masks'],
  ] as const) {
    if (!(await isDirectory(d))) {
      throw new DataError(d, `no ${what}/ directory: the reference layout is <split>/images/* with <split>/masks/* of the same base names`, 'layout');
    }
  }
  const ignored: LayoutListing['ignored'] = [];
  const images = groupByStem(await walk(imagesDir), ignored, imagesDir);
  const masks = groupByStem(await walk(masksDir), ignored, masksDir);
  const problems: DataProblem[] = [];
  const pairs: LayoutPair[] = [];
  for (const [key, files] of images) {
    if (files.length > 1) {
      for (const f of files) {
        problems.push({
          file: path.join(imagesDir, f),
          reason: `several images share the base name '${key}' (${files.join(', ')}): masks are matched by base name, rename all but one`,
          code: 'duplicate',
          sampleId: `images/${f}`,
        });
      }
      continue;
    }
    const rel = files[0]!;
    const id = `images/${rel}`;
    const imagePath = path.join(imagesDir, rel);
    const m = masks.get(key);
    if (m && m.length > 1) {
      problems.push({ file: imagePath, reason: `several masks match this image: ${m.map((f) => `masks/${f}`).join(', ')}; keep one`, code: 'duplicate', sampleId: id });
      continue;
    }
    pairs.push(m ? { id, imagePath, maskPath: path.join(masksDir, m[0]!) } : { id, imagePath });
  }
  for (const [key, files] of masks) {
    if (images.has(key)) continue;
    for (const f of files) {
      problems.push({ file: path.join(masksDir, f), reason: `mask has no image (expected images/${key}.<ext>)`, code: 'orphan_mask' });
    }
  }
  return { pairs, problems, ignored };
}

/**
 * The object of a binary mask (reference format): decoded (image_io's mask rules), checked to have
 * the image's size, thresholded at 128. DataError 'size_mismatch' or 'empty_mask' names the mask.
 */
export async function readBinaryMask(mask: Uint8Array, maskName: string, image: FrameSize): Promise<BinaryMask> {
  const gray = await decodeMask(mask, maskName);
  checkMaskSize(maskName, gray, image);
  const bin = binarize(gray);
  if (countOn(bin) === 0) {
    throw new DataError(maskName, `mask is empty: no pixel reaches ${MASK_THRESHOLD} (objects must be white, or any bright colour, on black)`, 'empty_mask');
  }
  return bin;
}
