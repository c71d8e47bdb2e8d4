// `sam-lora export`: merged weights and ONNX encoder / decoder models (tools/export/).

import { runExport } from '../tools/export/export_model.js';
import { UsageError } from './cli_errors.js';
import { type ParsedArgs, defineCommand } from './define_command.js';
import { MODEL_ARG_OPTIONS, modelArgs } from './model_args.js';

const USAGE = `usage: sam-lora export [--config FILE | --checkpoint SAM.pth] [--lora FILE] --out DIR
                       [--set KEY=VALUE ...]

  Writes one model (SAM, optionally with a LoRA folded in) as files other tools load, and prints
  JSON describing them:
    DIR/merged.safetensors  the SAM state dict (original keys) with W' = W + (alpha/rank) B A for every
                            adapted layer: load it wherever a SAM .pth state dict loads
    DIR/encoder.onnx        images [1, 3, S, S] (normalised, zero-padded, S = the model input size)
                            -> image_embeddings; weights over 1 GiB go to DIR/encoder.onnx.data
    DIR/decoder.onnx        the official SAM ONNX decoder: image_embeddings, point_coords [1, N, 2],
                            point_labels [1, N], mask_input, has_mask_input, orig_im_size
                            -> masks [1, 1, H, W], iou_predictions, low_res_masks (single mask)

  --config FILE      training config giving the SAM weights (default: the embedded demo config; a run
                     directory's config.yaml names a demo run's bundled base model)
  --checkpoint FILE  SAM checkpoint (.pth or .safetensors); sets model.checkpoint
  --lora FILE        a LoRA file (native or reference format) or a checkpoint directory (its
                     lora.safetensors); decoder.safetensors beside it, if any, replaces the mask
                     decoder (as in sam-lora eval)
  --out DIR          where to write the three files (created if missing)
  --set KEY=VALUE    override a config key (repeatable)

  Exit status: 0 done, 1 failed (a missing or unreadable checkpoint or LoRA file: the message names
  it), 2 usage error.
`;

const EXPORT_OPTIONS = {
  ...MODEL_ARG_OPTIONS,
  out: { type: 'string' },
} as const;

async function runExportCommand({ values }: ParsedArgs<typeof EXPORT_OPTIONS>): Promise<number> {
  if (!values.out) throw new UsageError('missing --out DIR');
  const result = await runExport({
    ...modelArgs(values),
    out: values.out,
    progress: (line) => process.stderr.write(`${line}\n`),
  });
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  return 0;
}

export const exportCommand = defineCommand({
  name: 'export',
  summary: 'write merged weights (safetensors) and ONNX encoder / decoder models for SAM front ends',
  usage: USAGE,
  options: EXPORT_OPTIONS,
  run: runExportCommand,
});
