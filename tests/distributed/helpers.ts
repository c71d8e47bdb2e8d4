// A tiny distributed run for the tests: a demo dataset, a tiny generated SAM, a config file.

import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { writeDemoDataset } from '../../shared/data/demo_data.js';
import { tinyConfigYaml } from '../helpers/tiny_config.js';

export async function tinyRunConfig(dir: string, opts: { train?: number; test?: number; size?: number; batch?: number; epochs?: number; seed?: number } = {}): Promise<string> {
  const demo = path.join(dir, 'demo');
  await writeDemoDataset(demo, { seed: opts.seed ?? 6, train: opts.train ?? 8, test: opts.test ?? 2, size: opts.size ?? 64 });
  const file = path.join(dir, 'config.yaml');
  writeFileSync(
    file,
    tinyConfigYaml({ train: path.join(demo, 'train'), test: path.join(demo, 'test'), epochs: opts.epochs ?? 2, batchSize: opts.batch ?? 4, seed: 5, checkpointDir: dir }),
  );
  return file;
}
