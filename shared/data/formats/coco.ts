// COCO instance annotations (the "instances_*.json" of COCO and of most annotation tools' COCO export):
// images [{ id, file_name, width, height }], annotations [{ id, image_id, category_id, segmentation,
// iscrowd }], where segmentation is a list of polygons [[x0, y0, x1, y1, ...], ...], an uncompressed
// RLE { size: [h, w], counts: number[] } or a compressed one { size, counts: string } (pycocotools).
// Each annotation is one object; its mask is what pycocotools' annToMask gives (polygons: see
// polygon.ts; RLE: coco_rle.ts), with the annotation's category_id as the mask's label.
//
// Decisions:
// - iscrowd annotations (one region covering a crowd) are left out unless includeCrowd is set;
// - annotations without a segmentation (bbox-only) are left out; objects whose mask comes out empty
//   (degenerate polygons) are dropped when the sample is loaded; a polygon of fewer than 3 points is
//   an invalid annotation (reported with its id, like any other), not an empty object dropped unseen;
// - a file_name that is absolute or contains `..` is refused (reported per image): images are read
//   from under the image directory only;
// - images with no usable annotation are not samples (COCO keeps unlabelled "negative" images, e.g.
//   48 in val2017; a prompt-driven trainer has nothing to learn from them), listed in `ignored`;
// - annotations are taken to be in the image's displayed frame (EXIF orientation applied, as every
//   image is decoded); the declared width/height must match the decoded image's size, else the
//   sample is reported ('size_mismatch'), since the polygons would not line up.
// Problems in the annotation file (a bad segmentation, an annotation of an unknown image, two images
// with one file_name) are reported per annotation/image, with the JSON file's path, never thrown one
// at a time: an invalid top-level structure (no images array, ...) is the only thing that throws.
// An invalid annotation is dropped, and its image is skipped by the scan (its object set would be
// incomplete; load() still loads the valid ones).

import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { z } from 'zod';
import { DataError, type DataProblem, fsDataError } from '../errors.js';
import type { BinaryMask } from '../masks.js';
import { decodeRle, rleArea, rleCountsFromString } from './coco_rle.js';
import { polygonRleCounts, rasterizePolygons } from './polygon.js';

/** One annotation's segmentation, kept as written (JSON-serialisable, so it can travel to a worker). */
export interface CocoObject {
  annotationId?: number | string;
  categoryId?: number;
  iscrowd: boolean;
  /** Polygons [x0, y0, x1, y1, ...] in pixel coordinates. */
  polygons?: number[][];
  /** RLE counts, uncompressed (number[]) or pycocotools' compressed string. */
  rle?: { size: [number, number]; counts: number[] | string };
}

/** What a COCO sample carries besides its image: the declared size and the annotations. */
export interface CocoImageInfo {
  imageId: number | string;
  /** Declared in the annotation file; the decoded image must have this size. */
  width: number;
  height: number;
  /** The annotation file, for error messages. */
  annotationFile: string;
  objects: CocoObject[];
}

export interface CocoListing {
  /** Images with at least one usable annotation. */
  images: { fileName: string; imagePath: string; info: CocoImageInfo }[];
  problems: DataProblem[];
  ignored: { file: string; reason: string }[];
  imageDir: string;
  categories: Map<number, string>;
}

const Id = z.union([z.number(), z.string()]);
const CocoFile = z.object({
  images: z.array(
    z.object({
      id: Id,
      file_name: z.string().min(1),
      width: z.number().int().positive(),
      height: z.number().int().positive(),
    }),
  ),
  annotations: z.array(z.unknown()).optional(),
  categories: z.array(z.object({ id: z.number(), name: z.string() })).optional(),
});

const isNumberArray = (a: unknown): a is number[] => Array.isArray(a) && a.every((v) => typeof v === 'number' && Number.isFinite(v));

/** Validates one annotation's segmentation; returns the object or the reason it is invalid ('' = no segmentation). */
function parseSegmentation(seg: unknown, w: number, h: number): { polygons?: number[][]; rle?: CocoObject['rle'] } | string {
  if (seg === undefined || seg === null || (Array.isArray(seg) && seg.length === 0)) return '';
  if (Array.isArray(seg)) {
    if (!seg.every(isNumberArray)) return 'segmentation is a list but not of polygons (lists of numbers)';
    const odd = seg.find((p) => p.length % 2 !== 0);
    if (odd) return `a polygon has an odd number of coordinates (${odd.length})`;
    // Rasterisation walks every edge on a 1/5-pixel grid: coordinates far outside the image are an error, not a hang.
    const limit = 4 * Math.max(w, h) + 16;
    if (seg.some((p) => p.some((v) => Math.abs(v) > limit))) return `polygon coordinates lie far outside the ${w}x${h} image (beyond +-${limit})`;
    // A polygon of fewer than 3 points has no area: the annotation is reported, not silently emptied.
    const short = seg.findIndex((p) => p.length < 6);
    if (short >= 0) return `polygon ${short} has ${seg[short]!.length / 2} point${seg[short]!.length === 2 ? '' : 's'}; a polygon needs at least 3 (fix or remove it)`;
    return { polygons: seg };
  }
  if (typeof seg === 'object') {
    const { size, counts } = seg as { size?: unknown; counts?: unknown };
    if (!isNumberArray(size) || size.length !== 2) return 'RLE segmentation without a [height, width] size';
    if (size[0] !== h || size[1] !== w) return `RLE size ${size[0]}x${size[1]} (h x w) differs from the image's declared ${h}x${w}`;
    if (typeof counts === 'string') {
      try {
        rleCountsFromString(counts);
      } catch (err) {
        return `compressed RLE counts are malformed: ${(err as Error).message}`;
      }
      return { rle: { size: [h, w], counts } };
    }
    if (isNumberArray(counts)) return { rle: { size: [h, w], counts } };
    return 'RLE counts are neither a list of numbers nor a compressed string';
  }
  return 'segmentation is neither polygons nor RLE';
}

/** True for a file_name that is absolute (POSIX or Windows) or climbs out of its directory. */
function escapesImageDir(fileName: string): boolean {
  if (path.posix.isAbsolute(fileName) || path.win32.isAbsolute(fileName) || /^[a-zA-Z]:/.test(fileName)) return true;
  return fileName.split('/').includes('..');
}

function resolveImageDir(candidates: string[], firstFile: string | undefined, exists: (p: string) => boolean): string {
  if (firstFile !== undefined && !escapesImageDir(firstFile.replace(/\\/g, '/'))) {
    for (const dir of candidates) if (exists(path.join(dir, firstFile))) return dir;
  }
  return candidates[0]!;
}

/**
 * Reads a COCO annotation file. `imageDirs` are the directories to look for the images in, in order of
 * preference: the first one in which the first image's file exists is used (file_name is relative to it).
 */
export async function listCoco(annotationFile: string, imageDirs: string[], opts: { includeCrowd?: boolean; exists: (p: string) => boolean }): Promise<CocoListing> {
  let text: string;
  try {
    text = await readFile(annotationFile, 'utf8');
  } catch (err) {
    throw fsDataError(annotationFile, err, 'COCO annotation file');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new DataError(annotationFile, `not valid JSON: ${(err as Error).message}`, 'bad_annotation', { cause: err });
  }
  const parsed = CocoFile.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 10).map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    const more = parsed.error.issues.length > 10 ? `; and ${parsed.error.issues.length - 10} more` : '';
    throw new DataError(annotationFile, `not a COCO annotation file: ${issues.join('; ')}${more}`, 'bad_annotation');
  }
  const coco = parsed.data;
  const imageDir = resolveImageDir(imageDirs, coco.images[0]?.file_name, opts.exists);
  const problems: DataProblem[] = [];
  const ignored: { file: string; reason: string }[] = [];
  const categories = new Map<number, string>((coco.categories ?? []).map((c) => [c.id, c.name]));

  const byId = new Map<string, { fileName: string; imagePath: string; info: CocoImageInfo; crowdOnly: number }>();
  const byFile = new Map<string, (number | string)[]>();
  for (const im of coco.images) {
    const key = String(im.id);
    if (byId.has(key)) {
      problems.push({ file: annotationFile, reason: `image id ${key} appears twice in images[]`, code: 'bad_annotation' });
      continue;
    }
    const fileName = im.file_name.replace(/\\/g, '/');
    if (escapesImageDir(fileName)) {
      problems.push({
        file: annotationFile,
        reason: `image id ${key}: file_name ${JSON.stringify(fileName.slice(0, 200))} is absolute or leaves the image directory (..); image files must lie under ${imageDir}`,
        code: 'bad_annotation',
        sampleId: fileName,
      });
      continue;
    }
    const imagePath = path.join(imageDir, fileName);
    byId.set(key, { fileName, imagePath, info: { imageId: im.id, width: im.width, height: im.height, annotationFile, objects: [] }, crowdOnly: 0 });
    const ids = byFile.get(fileName);
    if (ids) ids.push(im.id);
    else byFile.set(fileName, [im.id]);
  }
  const duplicated = new Set<string>();
  for (const [fileName, ids] of byFile) {
    if (ids.length < 2) continue;
    duplicated.add(fileName);
    problems.push({
      file: annotationFile,
      reason: `file_name '${fileName}' is used by ${ids.length} images (ids ${ids.join(', ')}); each image must appear once`,
      code: 'duplicate',
      sampleId: fileName,
    });
  }

  (coco.annotations ?? []).forEach((raw, index) => {
    const ann = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
    const annId = typeof ann.id === 'number' || typeof ann.id === 'string' ? ann.id : undefined;
    const label = `annotation ${annId ?? `#${index}`}`;
    const imageId = ann.image_id;
    if (typeof imageId !== 'number' && typeof imageId !== 'string') {
      problems.push({ file: annotationFile, reason: `${label} has no image_id`, code: 'bad_annotation' });
      return;
    }
    const image = byId.get(String(imageId));
    if (!image) {
      problems.push({ file: annotationFile, reason: `${label} refers to image_id ${imageId}, which is not in images[]`, code: 'bad_annotation' });
      return;
    }
    const seg = parseSegmentation(ann.segmentation, image.info.width, image.info.height);
    if (typeof seg === 'string') {
      if (seg !== '') problems.push({ file: annotationFile, reason: `${label} (image '${image.fileName}'): ${seg}`, code: 'bad_annotation', sampleId: image.fileName });
      return;
    }
    const iscrowd = ann.iscrowd === 1 || ann.iscrowd === true;
    if (iscrowd && !opts.includeCrowd) {
      image.crowdOnly++;
      return;
    }
    const obj: CocoObject = { iscrowd, ...seg };
    if (annId !== undefined) obj.annotationId = annId;
    if (typeof ann.category_id === 'number') obj.categoryId = ann.category_id;
    image.info.objects.push(obj);
  });

  const images: CocoListing['images'] = [];
  for (const im of byId.values()) {
    if (duplicated.has(im.fileName)) continue;
    if (im.info.objects.length === 0) {
      const why = im.crowdOnly > 0 ? 'only crowd (iscrowd) annotations, left out (includeCrowd includes them)' : 'no annotation with a segmentation';
      ignored.push({ file: im.imagePath, reason: why });
      continue;
    }
    images.push({ fileName: im.fileName, imagePath: im.imagePath, info: im.info });
  }
  images.sort((a, b) => (a.fileName < b.fileName ? -1 : a.fileName > b.fileName ? 1 : 0));
  return { images, problems, ignored, imageDir, categories };
}

/**
 * The masks of a COCO sample (declared size), non-empty ones only, each labelled with its category.
 * A segmentation that cannot be decoded throws DataError('bad_annotation') naming the annotation file.
 */
export function cocoObjects(info: CocoImageInfo, imageName: string): BinaryMask[] {
  const { width: w, height: h } = info;
  const out: BinaryMask[] = [];
  for (const obj of info.objects) {
    let mask: BinaryMask;
    try {
      if (obj.polygons) mask = rasterizePolygons(obj.polygons, h, w, obj.categoryId);
      else if (obj.rle) {
        const counts = typeof obj.rle.counts === 'string' ? rleCountsFromString(obj.rle.counts) : obj.rle.counts;
        mask = decodeRle(counts, h, w, obj.categoryId);
      } else continue;
    } catch (err) {
      throw new DataError(
        info.annotationFile,
        `annotation ${obj.annotationId ?? '?'} of image '${imageName}': ${(err as Error).message}`,
        'bad_annotation',
        { cause: err },
      );
    }
    let any = false;
    for (let i = 0; i < mask.data.length; i++) {
      if (mask.data[i] !== 0) {
        any = true;
        break;
      }
    }
    if (any) out.push(mask);
  }
  return out;
}

/**
 * How many objects of a COCO sample have a non-empty mask, from the RLE run lengths alone (no mask is
 * built: what the scan needs, cheaply). Same errors as cocoObjects.
 */
export function countCocoObjects(info: CocoImageInfo, imageName: string): number {
  const { width: w, height: h } = info;
  let k = 0;
  for (const obj of info.objects) {
    try {
      if (obj.polygons) {
        // A union is non-empty iff one of its polygons is.
        if (obj.polygons.some((p) => p.length >= 6 && rleArea(polygonRleCounts(p, h, w), h, w) > 0)) k++;
      } else if (obj.rle) {
        const counts = typeof obj.rle.counts === 'string' ? rleCountsFromString(obj.rle.counts) : obj.rle.counts;
        if (rleArea(counts, h, w) > 0) k++;
      }
    } catch (err) {
      throw new DataError(
        info.annotationFile,
        `annotation ${obj.annotationId ?? '?'} of image '${imageName}': ${(err as Error).message}`,
        'bad_annotation',
        { cause: err },
      );
    }
  }
  return k;
}

/** Annotation files that may belong to a directory of images, most specific first. */
export async function cocoAnnotationCandidates(dir: string, listDir: (d: string) => Promise<string[]>, exists: (p: string) => boolean): Promise<string[]> {
  const inside = (await listDir(dir)).filter((f) => f.toLowerCase().endsWith('.json') && !f.startsWith('.')).map((f) => path.join(dir, f));
  if (inside.length > 0) return inside;
  const base = path.basename(dir);
  const sibling = [`${dir}.json`, path.join(path.dirname(dir), 'annotations', `instances_${base}.json`)];
  return sibling.filter(exists);
}

/** Directories where the images of an annotation file may be, most likely first. */
export function cocoImageDirCandidates(annotationFile: string, datasetPath?: string): string[] {
  const dir = path.dirname(annotationFile);
  const out: string[] = [];
  if (datasetPath !== undefined) out.push(datasetPath, path.join(datasetPath, 'images'));
  out.push(dir, path.join(dir, 'images'));
  const m = /^(?:instances|person_keypoints|captions|panoptic)_(.+)\.json$/i.exec(path.basename(annotationFile));
  if (m) out.push(path.join(path.dirname(dir), m[1]!), path.join(path.dirname(dir), 'images', m[1]!));
  return [...new Set(out)];
}
