// Instance-label masks: the reference layout (images/ + masks/, formats/reference_layout.ts) with
// masks whose pixel values are object ids: each distinct non-zero value is one object (0 is
// background). Single-channel 8- or 16-bit masks give the value itself, colour masks one object per
// distinct colour (image_io.ts's decodeLabelMask). The masks must be lossless: a JPEG's compression
// artefacts would invent labels along every edge, so JPEG label masks are rejected ('unsupported_format').

import { DataError } from '../errors.js';
import { decodeLabelMask, isJpeg } from '../image_io.js';
import { type BinaryMask, checkMaskSize, type FrameSize, splitLabels } from '../masks.js';

/** One object per label of an instance-label mask, ascending by label (each mask's `label` set). */
export async function readInstanceMasks(mask: Uint8Array, maskName: string, image: FrameSize): Promise<BinaryMask[]> {
  if (isJpeg(mask)) {
    throw new DataError(
      maskName,
      'instance-label mask is a JPEG: lossy compression changes label values at every edge; save label masks as PNG (8- or 16-bit), TIFF or BMP',
      'unsupported_format',
    );
  }
  const labels = await decodeLabelMask(mask, maskName);
  checkMaskSize(maskName, labels, image);
  const objects = splitLabels(labels);
  if (objects.length === 0) throw new DataError(maskName, 'instance-label mask is empty: every pixel is 0 (background)', 'empty_mask');
  return objects;
}
