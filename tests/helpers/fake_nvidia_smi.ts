// A stand-in nvidia-smi (a shell script) for the GPU metrics tests on hosts without a GPU.

import { chmodSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

/** Writes `dir`/nvidia-smi running `body`; returns its path. */
export function fakeNvidiaSmi(dir: string, body: string): string {
  const file = path.join(dir, 'nvidia-smi');
  writeFileSync(file, `#!/bin/sh\n${body}\n`);
  chmodSync(file, 0o755);
  return file;
}
