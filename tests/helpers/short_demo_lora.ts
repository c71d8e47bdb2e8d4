// A short run of the demo job itself: the embedded configuration (DEFAULT_CONFIG_YAML: the bundled
// base, the demo's adapter and optimizer settings), shortened to a few epochs of a small generated
// target-domain set at the model's 128 px, so it trains in a few CPU seconds. Tests that need an
// adapter trained the way `npm start` trains one use it, and follow the default when it changes.

import * as path from 'node:path';
import type { Summary } from '../../coordinator/trainer.js';
import { runLocal } from '../../launcher/in_process_run.js';
import { writeDemoDataset } from '../../shared/data/demo_data.js';

export interface ShortDemoLora {
  summary: Summary;
  /** The final adapter file (checkpoints/final/lora.safetensors). */
  lora: string;
}

/** Trains under dir (data/ and run/): 48 training images (seed 4, not the demo's split), 12 held out, 3 epochs unless told. */
export async function trainShortDemoLora(dir: string, epochs = 3): Promise<ShortDemoLora> {
  const data = path.join(dir, 'data');
  await writeDemoDataset(data, { seed: 4, train: 48, test: 12, size: 128 });
  const summary = await runLocal({
    runDir: path.join(dir, 'run'),
    overrides: {
      'data.train': path.join(data, 'train'),
      'data.test': path.join(data, 'test'),
      'train.epochs': String(epochs),
      'train.seed': '2',
      'eval.interval_epochs': String(epochs),
      'checkpoint.dir': path.join(dir, 'runs'),
    },
  });
  if (summary.status !== 'completed' || !summary.checkpoints.final) throw new Error(`short demo LoRA run ended ${summary.status} without final adapters`);
  return { summary, lora: path.join(summary.checkpoints.final, 'lora.safetensors') };
}
