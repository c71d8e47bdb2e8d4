// A tiny generated SAM (64 px input, the trainer test's variant) for the evaluation tests: a config
// file for it, and a LoRA file for it or for another width.

import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { type SamConfig } from '../../../shared/sam/config.js';
import { initLora } from '../../../shared/sam/lora.js';
import { saveLora } from '../../../shared/sam/lora_io.js';
import { tinyConfigYaml } from '../../helpers/tiny_config.js';

export const TINY: SamConfig = { dim: 32, depth: 2, heads: 2, glob: [1], img: 64, window: 2, pdim: 32, dmlp: 64, iouh: 32, dheads: 2 };

/** Writes <dir>/<name>.yaml: the tiny variant with generated weights (seed 3), optional data splits. */
export function writeTinyConfig(dir: string, name: string, data: { train?: string; test?: string } = {}, extra = ''): string {
  const file = path.join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    tinyConfigYaml({ train: data.train ?? null, test: data.test ?? null, epochs: 1, trainDecoder: true, lr: 0.003, checkpointDir: dir, extra }),
  );
  return file;
}

/** Saves a q/v LoRA (rank 4, all blocks) for the given variant (default: the tiny one) with non-zero B. */
export async function writeLora(file: string, cfg: SamConfig = TINY, seed = 5): Promise<void> {
  const spec = { rank: 4, alpha: 4, blocks: [...Array(cfg.depth).keys()], targets: ['q', 'v'] as ('q' | 'v')[] };
  const tensors = initLora(cfg, spec, seed);
  for (const [k, t] of tensors) if (k.includes('.b_')) t.data.fill(0.01);
  await saveLora(file, tensors, spec, 'native');
}
