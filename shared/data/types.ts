// Minimal structural image and mask types shared by the data pipeline. Loaders (image_io.ts) may
// declare their own equivalents: these are plain shapes, so any { width, height, data } matches.

/** An 8-bit RGB image, HWC interleaved: data[(y * width + x) * 3 + c]. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

/** A binary mask, one byte per pixel in {0, 1}: data[y * width + x]. */
export interface BinaryMask {
  width: number;
  height: number;
  data: Uint8Array;
}
