// The config of the compute-thread test and the event-loop benchmark: a small generated SAM at
// 256 px, so one step (graph build, session, 4 images) takes a good fraction of a second.

import * as path from 'node:path';

export function threadStepConfigYaml(demo: string, checkpointDir: string): string {
  return `model:
  checkpoint: null
  variant: { dim: 64, depth: 2, heads: 2, glob: [1], img: 256, window: 4, pdim: 32, dmlp: 64, iouh: 32 }
  decoder_heads: 2
data:
  train: ${path.join(demo, 'train')}
  test: ${path.join(demo, 'test')}
train:
  epochs: 1
  batch_size: 4
  micro_batch: 2
  train_decoder: true
  seed: 3
checkpoint:
  dir: ${checkpointDir}
runtime:
  threads: 1
`;
}
