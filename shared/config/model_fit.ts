// The checks that need the model: the variant a config pins (if any), LoRA block indexes against the
// encoder depth, the declared variant against the checkpoint's inferred one. loadConfig runs them at
// once when the variant is known without reading weights (a named or custom variant, or the generated
// tiny one); with `variant: auto` and a checkpoint, call checkModelFit after loading the checkpoint.

import { type SamConfig, VARIANTS } from '../sam/config.js';
import type { LoraSpec } from '../sam/lora.js';
import { TINY_VARIANT } from './defaults.js';
import { ConfigError, type ConfigProblem } from './errors.js';
import type { TrainConfig } from './schema.js';

/** The SamConfig a config pins without reading weights; null when it is inferred from the checkpoint. */
export function declaredModelConfig(model: TrainConfig['model']): SamConfig | null {
  const v = model.variant;
  if (v === 'auto') return model.checkpoint === null ? { ...TINY_VARIANT, glob: [...TINY_VARIANT.glob], dheads: model.decoderHeads } : null;
  if (typeof v === 'string') return { ...VARIANTS[v], glob: [...VARIANTS[v].glob], dheads: model.decoderHeads };
  return { ...v, glob: [...v.glob], dheads: model.decoderHeads };
}

/** Which official variant a SamConfig is, if any (by the shape-visible fields). */
export function variantName(c: SamConfig): string {
  for (const [name, v] of Object.entries(VARIANTS)) {
    if (v.dim === c.dim && v.depth === c.depth && v.heads === c.heads && v.img === c.img && v.pdim === c.pdim) return name;
  }
  return 'a custom variant';
}

const describe = (c: Omit<SamConfig, 'dheads'>): string =>
  `dim ${c.dim}, depth ${c.depth}, heads ${c.heads}, global blocks [${c.glob.join(', ')}], img ${c.img}, window ${c.window}, pdim ${c.pdim}, dmlp ${c.dmlp}, iouh ${c.iouh}`;

/** LoRA blocks outside 0..depth-1, one problem per index. */
export function blockProblems(blocks: 'all' | readonly unknown[], depth: number): ConfigProblem[] {
  if (blocks === 'all') return [];
  return blocks.flatMap((b, i) =>
    typeof b === 'number' && Number.isInteger(b) && b >= depth
      ? [{ key: `lora.blocks[${i}]`, message: `block ${b} is outside 0..${depth - 1} (the model's image encoder has ${depth} blocks)` }]
      : [],
  );
}

/**
 * A rank above the width of the narrowest layer it adapts: such a LoRA has more parameters than the
 * layer has inputs or outputs, and nothing more to learn. Encoder layers are at least dim wide,
 * decoder attention layers pdim / 2.
 */
export function rankProblems(rank: number, model: Pick<SamConfig, 'dim' | 'pdim'>, targets: readonly unknown[] | undefined, decoderTargets: readonly unknown[] | undefined): ConfigProblem[] {
  const widths: [number, string][] = [];
  if (targets && targets.length > 0) widths.push([model.dim, `the image encoder's width ${model.dim}`]);
  if (decoderTargets && decoderTargets.length > 0) widths.push([model.pdim / 2, `the mask decoder's attention width ${model.pdim / 2}`]);
  const narrowest = widths.sort((a, b) => a[0] - b[0])[0];
  if (!narrowest || !(rank > narrowest[0])) return [];
  return [{ key: 'lora.rank', message: `rank ${rank} is larger than ${narrowest[1]} (a LoRA's rank is at most the width of the layers it adapts)` }];
}

/** Decoder heads that do not divide the decoder's attention width. */
export function decoderHeadProblems(decoderHeads: number, pdim: number): ConfigProblem[] {
  const inner = pdim / 2;
  return inner % decoderHeads === 0
    ? []
    : [{ key: 'model.decoder_heads', message: `${decoderHeads} heads do not divide the decoder's attention width ${inner} (pdim ${pdim} / 2)` }];
}

/** Every mismatch between a config and the model it will train (the model as loaded or generated). */
export function modelFitProblems(config: TrainConfig, model: SamConfig): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const declared = declaredModelConfig(config.model);
  if (declared && config.model.variant !== 'auto') {
    const windowMatters = model.glob.length < model.depth;
    const same =
      declared.dim === model.dim &&
      declared.depth === model.depth &&
      declared.heads === model.heads &&
      declared.img === model.img &&
      declared.pdim === model.pdim &&
      declared.dmlp === model.dmlp &&
      declared.iouh === model.iouh &&
      declared.glob.join(',') === model.glob.join(',') &&
      (!windowMatters || declared.window === model.window);
    if (!same) {
      const name = typeof config.model.variant === 'string' ? config.model.variant : 'the custom variant';
      problems.push({
        key: 'model.variant',
        message: `${name} (${describe(declared)}) does not match the checkpoint (${describe(model)}: ${variantName(model)})`,
      });
    }
  }
  problems.push(...decoderHeadProblems(config.model.decoderHeads, model.pdim));
  problems.push(...blockProblems(config.lora.blocks, model.depth));
  problems.push(...rankProblems(config.lora.rank, model, config.lora.targets, config.lora.decoderTargets));
  return problems;
}

/** The hook run once the model's SamConfig is known: throws one ConfigError naming the config file. */
export function checkModelFit(config: TrainConfig, model: SamConfig): void {
  const problems = modelFitProblems(config, model);
  if (problems.length) throw new ConfigError(config.source, problems);
}

/** The LoraSpec a config asks for on a model (after checkModelFit). */
export function loraSpecFor(config: TrainConfig, model: SamConfig): LoraSpec {
  checkModelFit(config, model);
  const { rank, alpha, blocks, targets, decoderTargets } = config.lora;
  return {
    rank,
    alpha,
    // No encoder targets: no encoder blocks either (a spec with blocks but no targets is invalid, and
    // was refused only when the first checkpoint was saved).
    blocks: targets.length === 0 ? [] : blocks === 'all' ? [...Array(model.depth).keys()] : [...blocks].sort((a, b) => a - b),
    targets: [...targets],
    decoderTargets: [...decoderTargets],
  };
}
