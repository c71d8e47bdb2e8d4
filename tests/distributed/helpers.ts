// A tiny distributed run for the tests: a demo dataset, a tiny generated SAM, a config file.

import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { writeDemoDataset } from '../../shared/data/demo_data.js';

export async function tinyRunConfig(dir: string, opts: { train?: number; batch?: number; epochs?: number; seed?: number } = {}): Promise<string> {
  const demo = path.join(dir, 'demo');
  await writeDemoDataset(demo, { seed: opts.seed ?? 6, train: opts.train ?? 8, test: 2, size: 64 });
  const file = path.join(dir, 'config.yaml');
  writeFileSync(
    file,
    `model:
  checkpoint: null
  variant: { dim: 32, depth: 2, heads: 2, glob: [1], img: 64, window: 2, pdim: 32, dmlp: 64, iouh: 32 }
  decoder_heads: 2
data:
  train: ${path.join(demo, 'train')}
  test: ${path.join(demo, 'test')}
train:
  epochs: ${opts.epochs ?? 2}
  batch_size: ${opts.batch ?? 4}
  seed: 5
optimizer:
  lr: 0.001
checkpoint:
  dir: ${dir}
`,
  );
  return file;
}
