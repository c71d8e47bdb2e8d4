// `sam-lora demo-data`: write the generated demo dataset (shared/data/demo_data.ts).

import { DEMO_DEFAULTS, writeDemoDataset } from '../shared/data/demo_data.js';
import { UsageError } from './cli_errors.js';
import { intOption } from './number_options.js';
import { type ParsedArgs, defineCommand } from './define_command.js';

const USAGE = `usage: sam-lora demo-data --out DIR [--seed N] [--train N] [--test N] [--size PX] [--force]

  Writes a generated segmentation dataset (one ring, ellipse or polygon per image on a textured
  background, exact binary masks) in the reference layout: DIR/{train,test}/{images,masks}/*.png.
  The same seed gives byte-identical files.

  --out DIR    where to write (created if missing)
  --seed N     generator seed (default ${DEMO_DEFAULTS.seed})
  --train N    training images (default ${DEMO_DEFAULTS.train})
  --test N     held-out images (default ${DEMO_DEFAULTS.test})
  --size PX    image side in pixels (default ${DEMO_DEFAULTS.size})
  --force      replace DIR/train and DIR/test if they already hold files
`;

const DEMO_DATA_OPTIONS = { out: { type: 'string' }, seed: { type: 'string' }, train: { type: 'string' }, test: { type: 'string' }, size: { type: 'string' }, force: { type: 'boolean' } } as const;

async function runDemoData({ values }: ParsedArgs<typeof DEMO_DATA_OPTIONS>): Promise<number> {
  if (values.out === undefined || values.out === '') throw new UsageError('missing --out DIR');
  const options = {
    seed: intOption('seed', values.seed, DEMO_DEFAULTS.seed, Number.MIN_SAFE_INTEGER),
    train: intOption('train', values.train, DEMO_DEFAULTS.train, 0),
    test: intOption('test', values.test, DEMO_DEFAULTS.test, 0),
    size: intOption('size', values.size, DEMO_DEFAULTS.size, 16),
  };
  const t0 = performance.now();
  const summary = await writeDemoDataset(values.out, options, values.force ?? false);
  const ms = Math.round(performance.now() - t0);
  process.stdout.write(
    `wrote ${summary.counts.train} train + ${summary.counts.test} test images (${summary.size} px, seed ${summary.seed}; ` +
      `${summary.kinds.ring} rings, ${summary.kinds.ellipse} ellipses, ${summary.kinds.polygon} polygons) to ${summary.out} in ${ms} ms\n`,
  );
  return 0;
}

export const demoDataCommand = defineCommand({
  name: 'demo-data',
  summary: 'write a generated demo dataset (rings, ellipses, polygons with exact masks) in the reference layout',
  usage: USAGE,
  options: DEMO_DATA_OPTIONS,
  run: runDemoData,
});
