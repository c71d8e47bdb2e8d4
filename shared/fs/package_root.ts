// The installed package's root (the nearest directory holding a package.json), the same from the
// sources and from dist/: where the proto files, the web demo's page and package.json itself live.

import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The nearest directory at or above `from` (default: this module's directory) holding a package.json. */
export function packageRoot(from: string = path.dirname(fileURLToPath(import.meta.url))): string {
  let dir = path.resolve(from);
  for (;;) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`no package.json found in ${from} or any directory above it`);
    dir = parent;
  }
}
