// SampleBytes (shared/data/dataset.ts) <-> its wire form, so a coordinator can ship a sample's
// encoded files to a worker that has no shared filesystem.

import type { CocoImageInfo as CocoInfo } from '../data/formats/coco.js';
import type { DatasetFormat, SampleBytes } from '../data/dataset.js';
import type * as pb from './messages.js';

const FORMATS: Record<DatasetFormat, pb.DatasetFormat> = {
  reference: 'DATASET_FORMAT_REFERENCE',
  instance: 'DATASET_FORMAT_INSTANCE',
  coco: 'DATASET_FORMAT_COCO',
};

export function sampleToWire(s: SampleBytes): pb.SampleBytes {
  return {
    format: FORMATS[s.format],
    id: s.id,
    image_name: s.imageName,
    image: s.image,
    mask_name: s.maskName ?? '',
    mask: s.mask ?? new Uint8Array(0),
    coco: s.coco ? cocoToWire(s.coco) : null,
  };
}

export function sampleFromWire(w: pb.SampleBytes): SampleBytes {
  const format = (Object.keys(FORMATS) as DatasetFormat[]).find((k) => FORMATS[k] === w.format);
  if (!format) throw new Error(`sample ${w.id}: unknown dataset format ${String(w.format)}`);
  if (format === 'coco' && !w.coco) throw new Error(`sample ${w.id}: a COCO sample without its annotations`);
  return {
    format,
    id: w.id,
    imageName: w.image_name,
    image: Buffer.from(w.image),
    ...(w.mask_name ? { maskName: w.mask_name, mask: Buffer.from(w.mask) } : {}),
    ...(w.coco ? { coco: cocoFromWire(w.coco) } : {}),
  };
}

function cocoToWire(c: CocoInfo): pb.CocoImageInfo {
  return {
    ...(typeof c.imageId === 'number' ? { image_id: 'image_id_number', image_id_number: c.imageId } : { image_id: 'image_id_string', image_id_string: c.imageId }),
    width: c.width,
    height: c.height,
    annotation_file: c.annotationFile,
    objects: c.objects.map((o) => ({
      ...(o.annotationId === undefined
        ? {}
        : typeof o.annotationId === 'number'
          ? { annotation_id: 'annotation_id_number' as const, annotation_id_number: o.annotationId }
          : { annotation_id: 'annotation_id_string' as const, annotation_id_string: o.annotationId }),
      category_id: o.categoryId ?? 0,
      iscrowd: o.iscrowd,
      polygons: (o.polygons ?? []).map((xy) => ({ xy })),
      rle: o.rle
        ? typeof o.rle.counts === 'string'
          ? { size: [...o.rle.size], counts: 'compressed', compressed: o.rle.counts }
          : { size: [...o.rle.size], counts: 'uncompressed', uncompressed: { counts: o.rle.counts } }
        : null,
    })),
  };
}

function cocoFromWire(c: pb.CocoImageInfo): CocoInfo {
  return {
    imageId: c.image_id === 'image_id_string' ? c.image_id_string! : c.image_id_number!,
    width: c.width,
    height: c.height,
    annotationFile: c.annotation_file,
    objects: c.objects.map((o) => ({
      ...(o.annotation_id === undefined ? {} : { annotationId: o.annotation_id === 'annotation_id_string' ? o.annotation_id_string! : o.annotation_id_number! }),
      categoryId: o.category_id,
      iscrowd: o.iscrowd,
      ...(o.polygons.length ? { polygons: o.polygons.map((p) => p.xy) } : {}),
      ...(o.rle
        ? { rle: { size: [o.rle.size[0] ?? 0, o.rle.size[1] ?? 0] as [number, number], counts: o.rle.counts === 'compressed' ? o.rle.compressed! : (o.rle.uncompressed?.counts ?? []) } }
        : {}),
    })),
  };
}
