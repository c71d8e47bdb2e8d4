// `sam-lora eval`: the untuned model ("base") and each LoRA on a test split, per-image and mean
// Dice / IoU, with result files, a chart and overlays (tools/evaluation/).

import { existsSync } from 'node:fs';
import { resolveLoraPath } from '../tools/evaluation/eval_model.js';
import { runEval } from '../tools/evaluation/run_eval.js';
import { BASE_MODEL } from '../tools/evaluation/names.js';
import { parseSetArgs } from '../shared/config/index.js';
import { UsageError } from './cli_errors.js';
import { type ParsedArgs, defineCommand } from './define_command.js';

const USAGE = `usage: sam-lora eval [--config FILE | --checkpoint SAM.pth] [--lora [NAME=]FILE ...] [--data DIR]
                     --out DIR [--set KEY=VALUE ...] [--no-overlays]

  Evaluates the untuned model ("base") and each LoRA file on a test split, the way the training run
  evaluates: each object is prompted with SAM's box prompt from its tight ground-truth box, at the
  image's original resolution; Dice and IoU per image (mean over its objects) and per model.

  --config FILE      training config giving the SAM weights and the test split; a run directory's
                     config.yaml names a demo run's bundled base model and finds its demo-data/test
                     (default: the embedded demo config)
  --checkpoint FILE  SAM checkpoint (.pth or .safetensors); sets model.checkpoint
  --lora [NAME=]FILE a LoRA file, native or reference format, or a checkpoint directory (its
                     lora.safetensors); repeatable. When decoder.safetensors
                     sits in the same directory (a checkpoint of a run that trained the decoder), its
                     mask-decoder weights are used for that model. NAME labels it (default: from the path)
  --data DIR         the test split (default: the config's data.test); a COCO .json works too
  --out DIR          where to write results.json, results.csv, dice_chart.png and
                     overlays/<model>/<image>.png (prediction filled blue, ground-truth contour red)
  --set KEY=VALUE    override a config key (repeatable), e.g. --set runtime.threads=4
  --no-overlays      skip overlays/

  Prints the table (a row per image, Dice and IoU per model, then the mean row) on stdout, progress on
  stderr. Exit status: 0 done, 1 failed (the message says why), 2 usage error.
`;

const NAME = /^[A-Za-z0-9_.+-]+$/;

/** "NAME=FILE" or "FILE" (a path that exists as given is always a path); a directory means its lora.safetensors. */
export function parseLoraArg(arg: string): { file: string; name?: string } {
  const eq = arg.indexOf('=');
  if (eq > 0 && !existsSync(arg) && NAME.test(arg.slice(0, eq)) && eq < arg.length - 1) return { name: arg.slice(0, eq), file: resolveLoraPath(arg.slice(eq + 1)) };
  if (arg === '') throw new UsageError('--lora needs a file');
  return { file: resolveLoraPath(arg) };
}

const EVAL_OPTIONS = {
  config: { type: 'string' },
  checkpoint: { type: 'string' },
  lora: { type: 'string', multiple: true },
  data: { type: 'string' },
  out: { type: 'string' },
  set: { type: 'string', multiple: true },
  'no-overlays': { type: 'boolean' },
} as const;

async function runEvalCommand({ values }: ParsedArgs<typeof EVAL_OPTIONS>): Promise<number> {
  if (!values.out) throw new UsageError('missing --out DIR');
  const loras = (values.lora ?? []).map(parseLoraArg);
  const explicit = loras.flatMap((l) => (l.name === undefined ? [] : [l.name]));
  if (explicit.includes(BASE_MODEL)) throw new UsageError(`--lora: the name "${BASE_MODEL}" is the untuned model's`);
  const dup = explicit.find((n, i) => explicit.indexOf(n) !== i);
  if (dup !== undefined) throw new UsageError(`--lora: the name "${dup}" is given twice`);
  const overrides = parseSetArgs(values.set ?? []);

  const r = await runEval({
    configPath: values.config,
    checkpoint: values.checkpoint,
    overrides,
    loras,
    data: values.data,
    out: values.out,
    noOverlays: values['no-overlays'] ?? false,
    progress: (line) => process.stderr.write(`${line}\n`),
  });
  process.stdout.write(`\n${r.table}\n`);
  process.stdout.write(`wrote ${r.files.json}, ${r.files.csv}, ${r.files.chart}${r.files.overlays ? ` and ${r.files.overlays}/` : ''}\n`);
  const failed = r.results.reduce((a, m) => a + m.failed.length, 0);
  if (failed) process.stderr.write(`${failed} image evaluation(s) failed; see "failed" in results.json\n`);
  return 0;
}

export const evalCommand = defineCommand({
  name: 'eval',
  summary: 'Dice/IoU of the base model and LoRA files on a test split (table, results.json/csv, chart, overlays)',
  usage: USAGE,
  options: EVAL_OPTIONS,
  run: runEvalCommand,
});
