// Crash-safe file writes: data goes to a temporary file in the same directory, is fsynced, and is
// renamed over the target, so readers see the old file or the new one, never half of one.

import { closeSync, fsyncSync, openSync, renameSync, writeSync } from 'node:fs';
import * as path from 'node:path';

/** fsync a directory so a rename inside it is durable (a no-op where the filesystem refuses). */
export function fsyncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Some filesystems cannot fsync a directory; the rename is still atomic.
  }
}

/** Writes the chunks to `file` and fsyncs it (no rename: for files inside a temporary directory). */
export function writeFileSynced(file: string, chunks: string | Uint8Array | readonly Uint8Array[]): void {
  const parts = typeof chunks === 'string' ? [Buffer.from(chunks, 'utf8')] : chunks instanceof Uint8Array ? [chunks] : chunks;
  const fd = openSync(file, 'w');
  try {
    for (const c of parts) {
      let written = 0;
      while (written < c.byteLength) written += writeSync(fd, c, written, c.byteLength - written);
    }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Atomically replaces `file` with the chunks. */
export function writeFileAtomic(file: string, chunks: string | Uint8Array | readonly Uint8Array[]): void {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSynced(tmp, chunks);
  renameSync(tmp, file);
  fsyncDir(path.dirname(file));
}
