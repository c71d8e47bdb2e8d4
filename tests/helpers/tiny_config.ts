// The training config the loop tests share: a tiny generated SAM (64 px input, 2 blocks) so a step
// takes milliseconds, with the data splits and training settings each test needs.

export interface TinyConfigOptions {
  train: string | null;
  test?: string | null;
  epochs?: number;
  batchSize?: number;
  seed?: number;
  trainDecoder?: boolean;
  lr?: number;
  checkpointDir: string;
  /** Extra YAML appended at the end. */
  extra?: string;
}

export function tinyConfigYaml(o: TinyConfigOptions): string {
  return `model:
  checkpoint: null
  variant: { dim: 32, depth: 2, heads: 2, glob: [1], img: 64, window: 2, pdim: 32, dmlp: 64, iouh: 32 }
  decoder_heads: 2
data:
  train: ${o.train ?? 'null'}
  test: ${o.test ?? 'null'}
train:
  epochs: ${o.epochs ?? 2}
  batch_size: ${o.batchSize ?? 2}
  train_decoder: ${o.trainDecoder ?? false}
  seed: ${o.seed ?? 3}
optimizer:
  lr: ${o.lr ?? 0.001}
checkpoint:
  dir: ${o.checkpointDir}
${o.extra ?? ''}`;
}
