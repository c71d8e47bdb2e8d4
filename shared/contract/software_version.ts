// This build's version, as package.json states it: workers and the coordinator exchange it when a
// worker joins, so a refusal can say which versions met.

import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { packageRoot } from '../fs/package_root.js';

function readVersion(): string {
  const file = path.join(packageRoot(), 'package.json');
  const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
  const version = typeof parsed === 'object' && parsed !== null ? (parsed as { version?: unknown }).version : undefined;
  if (typeof version !== 'string' || version === '') throw new Error(`${file}: no "version" string`);
  return version;
}

export const SOFTWARE_VERSION: string = readVersion();
