// `sam-lora predict`: segment one image from a box and/or point prompt (tools/evaluation/predict.ts).

import { type PointPrompt, runPredict } from '../tools/evaluation/predict.js';
import type { Box } from '../shared/data/prompts.js';
import { UsageError } from './cli_errors.js';
import { type ParsedArgs, defineCommand } from './define_command.js';
import { MODEL_ARG_OPTIONS, modelArgs } from './model_args.js';

const USAGE = `usage: sam-lora predict [--config FILE | --checkpoint SAM.pth] [--lora FILE] --image IMG
                        (--box x0,y0,x1,y1 | --point x,y[,label] ...) [--multimask] --out DIR
                        [--set KEY=VALUE ...]

  Segments one image with SAM (optionally with a LoRA) from a prompt in the image's pixel
  coordinates, and prints JSON: the predicted IoU of each mask, the chosen one, the files written.

  --config FILE      training config giving the SAM weights (default: the embedded demo config; a run
                     directory's config.yaml names a demo run's bundled base model)
  --checkpoint FILE  SAM checkpoint (.pth or .safetensors); sets model.checkpoint
  --lora FILE        a LoRA file (native or reference format) or a checkpoint directory (its
                     lora.safetensors); decoder.safetensors beside it, if any, replaces the mask
                     decoder (as in sam-lora eval)
  --image IMG        the image (JPEG, PNG, TIFF, WebP, GIF, AVIF, BMP)
  --box x0,y0,x1,y1  box prompt, inside 0..width x 0..height
  --point x,y[,l]    point prompt (repeatable), label l: 1 positive (default) or 0 negative; may be
                     combined with --box
  --multimask        SAM's three masks: mask_0.png .. mask_2.png; mask.png and overlay.png show the
                     one with the highest predicted IoU
  --out DIR          where to write mask.png (0/255, the image's size) and overlay.png (mask filled
                     blue, box and points drawn: green, negative points red)
  --set KEY=VALUE    override a config key (repeatable), e.g. --set runtime.device=cuda

  Exit status: 0 done, 1 bad input (unreadable image, prompt outside the image, no prompt) or
  failure, 2 usage error.
`;

function numbers(flag: string, text: string, counts: number[]): number[] {
  const parts = text.split(',').map((s) => s.trim());
  const values = parts.map(Number);
  if (!counts.includes(parts.length) || parts.some((p) => p === '') || values.some((v) => !Number.isFinite(v))) {
    throw new UsageError(`${flag} takes ${counts.join(' or ')} comma-separated numbers (got "${text}")`);
  }
  return values;
}

export function parseBox(text: string): Box {
  return numbers('--box', text, [4]) as Box;
}

export function parsePoint(text: string): PointPrompt {
  const [x, y, label = 1] = numbers('--point', text, [2, 3]) as [number, number, number?];
  if (label !== 0 && label !== 1) throw new UsageError(`--point ${text}: the label must be 1 (positive) or 0 (negative)`);
  return { x, y, label };
}

const PREDICT_OPTIONS = {
  ...MODEL_ARG_OPTIONS,
  image: { type: 'string' },
  box: { type: 'string' },
  point: { type: 'string', multiple: true },
  multimask: { type: 'boolean' },
  out: { type: 'string' },
} as const;

async function runPredictCommand({ values }: ParsedArgs<typeof PREDICT_OPTIONS>): Promise<number> {
  if (!values.image) throw new UsageError('missing --image IMG');
  if (!values.out) throw new UsageError('missing --out DIR');
  const box = values.box === undefined ? undefined : parseBox(values.box);
  const points = (values.point ?? []).map(parsePoint);
  const result = await runPredict({
    ...modelArgs(values),
    image: values.image,
    ...(box ? { box } : {}),
    points,
    multimask: values.multimask ?? false,
    out: values.out,
    progress: (line) => process.stderr.write(`${line}\n`),
  });
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  return 0;
}

export const predictCommand = defineCommand({
  name: 'predict',
  summary: 'segment one image from a box or point prompt (mask.png, overlay.png, predicted IoU as JSON)',
  usage: USAGE,
  options: PREDICT_OPTIONS,
  run: runPredictCommand,
});
