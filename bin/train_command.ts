// `sam-lora train`: a training run on this host. Without --config, the embedded demo job.

import { parseArgs } from 'node:util';
import { runLocal } from '../coordinator/local_run.js';
import { parseSetArgs } from '../shared/config/index.js';
import type { Command } from './commands.js';

const USAGE = `usage: sam-lora train [--config FILE] [--run-dir DIR] [--resume] [--set KEY=VALUE ...]
                      [--epochs N] [--device cpu|cuda] [--gpu N] [--threads N]

  Trains LoRA adapters on SAM. Without --config it runs the embedded demo job: a small SAM variant
  with seeded random weights, trained on a generated dataset on the CPU, printing held-out Dice
  before and after. With a config (ours or the reference project's config.yaml) it runs that job.

  --config FILE    YAML training configuration (README, "Configuration")
  --run-dir DIR    run directory (default: <checkpoint.dir>/<timestamp>)
  --resume         continue from the run directory's latest checkpoint
  --set KEY=VALUE  override a config key (repeatable), e.g. --set train.epochs=3
  --epochs N, --device cpu|cuda, --gpu N, --threads N
                   shorthands for --set train.epochs=N, runtime.device, runtime.gpu, runtime.threads
`;

async function runTrain(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        config: { type: 'string' },
        'run-dir': { type: 'string' },
        resume: { type: 'boolean' },
        set: { type: 'string', multiple: true },
        epochs: { type: 'string' },
        device: { type: 'string' },
        gpu: { type: 'string' },
        threads: { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    process.stderr.write(`sam-lora train: ${err instanceof Error ? err.message : String(err)}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const overrides = parseSetArgs(values.set ?? []);
  if (values.epochs !== undefined) overrides['train.epochs'] = values.epochs;
  if (values.device !== undefined) overrides['runtime.device'] = values.device;
  if (values.gpu !== undefined) overrides['runtime.gpu'] = values.gpu;
  if (values.threads !== undefined) overrides['runtime.threads'] = values.threads;

  const stop = new AbortController();
  const onSignal = (): void => {
    if (stop.signal.aborted) process.exit(130);
    process.stderr.write('\nstopping after this step (checkpointing); press Ctrl-C again to quit at once\n');
    stop.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const summary = await runLocal({
      configPath: values.config,
      overrides,
      runDir: values['run-dir'],
      resume: values.resume ?? false,
      progress: (line) => process.stdout.write(`${line}\n`),
      signal: stop.signal,
    });
    const fmt = (s: { dice: number; iou: number } | null): string => (s ? `Dice ${s.dice.toFixed(4)}, IoU ${s.iou.toFixed(4)}` : 'n/a (no test split)');
    process.stdout.write(
      `\n${summary.status}: ${summary.steps} steps in ${summary.wall_s.toFixed(1)} s, final loss ${summary.final_loss?.toFixed(4) ?? 'n/a'}\n` +
        `held-out before training: ${fmt(summary.eval_before)}\n` +
        `held-out after training:  ${fmt(summary.eval_after)}\n` +
        `LoRA: ${summary.checkpoints.final ?? summary.checkpoints.latest}/lora.safetensors\n`,
    );
    return summary.status === 'failed' ? 1 : 0;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

export const trainCommand: Command = {
  name: 'train',
  summary: 'train LoRA adapters (no --config: the embedded demo job)',
  run: runTrain,
};
