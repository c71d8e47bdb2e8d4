// The flags that name the SAM model a command runs (predict, export, serve): --config or
// --checkpoint for the weights, --lora for one adapter file, --set overrides; parsed the same way.

import { resolveLoraPath } from '../tools/evaluation/eval_model.js';
import { parseSetArgs } from '../shared/config/index.js';

export const MODEL_ARG_OPTIONS = {
  config: { type: 'string' },
  checkpoint: { type: 'string' },
  lora: { type: 'string' },
  set: { type: 'string', multiple: true },
} as const;

export interface ModelArgs {
  configPath: string | undefined;
  checkpoint: string | undefined;
  overrides: Record<string, string>;
  /** The LoRA file (a checkpoint directory resolved to its lora.safetensors), when given. */
  lora?: string;
}

export function modelArgs(values: { config?: string; checkpoint?: string; lora?: string; set?: string[] }): ModelArgs {
  return {
    configPath: values.config,
    checkpoint: values.checkpoint,
    overrides: parseSetArgs(values.set ?? []),
    ...(values.lora ? { lora: resolveLoraPath(values.lora) } : {}),
  };
}
