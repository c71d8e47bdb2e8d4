// A throw-away project directory for config tests: dataset split directories, a dummy checkpoint and
// config files written on demand. Removed when the test process exits.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

/** The reference project's config.yaml, verbatim. */
export const REFERENCE_CONFIG = `DATASET:
  TRAIN_PATH: "./dataset/train"
  TEST_PATH: "./dataset/test"

SAM:
  CHECKPOINT: "./sam_vit_b_01ec64.pth"
  RANK: 512
TRAIN:
  BATCH_SIZE: 1
  NUM_EPOCHS: 50
`;

export interface Project {
  dir: string;
  /** Writes a file under the project (directories created) and returns its absolute path. */
  write(name: string, text: string): string;
  mkdir(name: string): string;
  abs(name: string): string;
}

const made: string[] = [];
process.on('exit', () => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

export function makeProject(): Project {
  const dir = mkdtempSync(path.join(tmpdir(), 'samlora-config-'));
  made.push(dir);
  const abs = (name: string): string => path.join(dir, name);
  const mkdir = (name: string): string => {
    mkdirSync(abs(name), { recursive: true });
    return abs(name);
  };
  const write = (name: string, text: string): string => {
    mkdirSync(path.dirname(abs(name)), { recursive: true });
    writeFileSync(abs(name), text);
    return abs(name);
  };
  mkdir('dataset/train');
  mkdir('dataset/test');
  write('sam_vit_b_01ec64.pth', 'not really a checkpoint');
  return { dir, write, mkdir, abs };
}
