// Errors and problem records of the data layer. Every failure names the file it is about, so a
// training loop can count and skip a bad sample, and the dataset scan can list every problem at once.

import { errorMessage } from '../errors/error_message.js';

/** What went wrong, for callers that count problems by kind. */
export type DataErrorCode =
  | 'missing' // a file or directory does not exist
  | 'unreadable' // it exists but cannot be read (permissions, I/O error, a directory where a file was expected)
  | 'unsupported_format' // not an image format we decode (a text file named .jpg, RLE-compressed BMP, ...)
  | 'corrupt' // a known format whose data is damaged or truncated
  | 'size_mismatch' // a mask (or COCO annotation) whose size differs from its image's
  | 'empty_mask' // a mask without any object pixel
  | 'no_objects' // a sample without a single usable object
  | 'missing_mask' // an image without a mask
  | 'orphan_mask' // a mask without an image
  | 'duplicate' // two files claim the same sample
  | 'bad_annotation' // an invalid COCO annotation (or annotation file)
  | 'no_images' // a dataset without a single image (or, for COCO, without a usable annotation)
  | 'layout'; // the dataset directory is not laid out as expected

/** One problem found in a dataset: the file (absolute path) and a sentence saying what is wrong. */
export interface DataProblem {
  file: string;
  reason: string;
  code: DataErrorCode;
  /** The sample the problem belongs to, when it belongs to one. */
  sampleId?: string;
}

/** A failure to read one file of a dataset; `file` names it (absolute path where known). */
export class DataError extends Error {
  override readonly name = 'DataError';
  readonly file: string;
  readonly reason: string;
  readonly code: DataErrorCode;

  constructor(file: string, reason: string, code: DataErrorCode, options?: { cause?: unknown }) {
    super(`${file}: ${reason}`, options);
    this.file = file;
    this.reason = reason;
    this.code = code;
  }

  toProblem(sampleId?: string): DataProblem {
    return sampleId === undefined
      ? { file: this.file, reason: this.reason, code: this.code }
      : { file: this.file, reason: this.reason, code: this.code, sampleId };
  }
}

/** Node's errno code of a file-system error, if it is one. */
export function errnoCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof (err as { code: unknown }).code === 'string') {
    return (err as { code: string }).code;
  }
  return undefined;
}

/** A file-system error on `file` as a DataError ('missing' for ENOENT/ENOTDIR, else 'unreadable'). */
export function fsDataError(file: string, err: unknown, what = 'file'): DataError {
  const code = errnoCode(err);
  if (code === 'ENOENT' || code === 'ENOTDIR') return new DataError(file, `${what} not found`, 'missing', { cause: err });
  if (code === 'EISDIR') return new DataError(file, `is a directory, expected a ${what}`, 'unreadable', { cause: err });
  const msg = errorMessage(err);
  return new DataError(file, `cannot read ${what}: ${msg}`, 'unreadable', { cause: err });
}
