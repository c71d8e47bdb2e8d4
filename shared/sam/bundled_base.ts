// The bundled base model: the small SAM this project pretrains itself (`sam-lora pretrain`, README
// "The bundled base model") and ships in models/. `model.checkpoint: null` means this file.

import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';

export const BUNDLED_BASE_FILE = 'models/sam_tiny_pretrained.safetensors';

/** The bundled file's absolute path: found above this module, from the sources or from dist/. */
export function bundledBasePath(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let up = 0; up < 6; up++) {
    const candidate = path.join(dir, BUNDLED_BASE_FILE);
    if (existsSync(candidate) && existsSync(path.join(dir, 'package.json'))) return candidate;
    dir = path.dirname(dir);
  }
  throw new Error(`the bundled base model ${BUNDLED_BASE_FILE} is missing from this installation (set model.checkpoint to a SAM checkpoint, or train one with sam-lora pretrain)`);
}
