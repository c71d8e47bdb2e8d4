// Locates the golden PyTorch fixtures ($SAMLORA_FIXTURES, default ../shared/fixtures beside the repo).

import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SamConfig } from '../../shared/sam/config.js';

export function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('package.json not found above the test file');
    dir = up;
  }
  return dir;
}

export const FIXTURES = process.env.SAMLORA_FIXTURES ?? path.resolve(repoRoot(), '../shared/fixtures');

/** Every fixture directory (one holding meta.json and sam.pth); seed-lora is not one. */
export function fixtureDirs(root = FIXTURES): string[] {
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((d) => d !== 'seed-lora')
    .map((d) => path.join(root, d))
    .filter((d) => statSync(d).isDirectory() && existsSync(path.join(d, 'meta.json')) && existsSync(path.join(d, 'sam.pth')));
}

export interface SampleMeta {
  original_size: [number, number];
  input_size: [number, number];
}

export interface FixtureMeta {
  variant: string;
  config: SamConfig;
  rank: number;
  seed: number;
  sample1: SampleMeta;
  sample2: SampleMeta;
  loss: number;
  trajectory: { optimizer: string; lr: number; betas: [number, number]; eps: number; weight_decay: number; steps: number; losses: number[] };
}

export function readMeta(dir: string): FixtureMeta {
  return JSON.parse(readFileSync(path.join(dir, 'meta.json'), 'utf8')) as FixtureMeta;
}
