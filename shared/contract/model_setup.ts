// The model a run trains: the SAM checkpoint, its variant, the LoRA spec, and the initial value of
// every trainable tensor. model.checkpoint null: with variant auto, the bundled pretrained small SAM
// (sam/bundled_base.ts); with a declared variant, seeded generated weights of that shape (tests and
// benchmarks of shapes nobody has weights for).

import { statSync } from 'node:fs';
import type { TrainConfig } from '../config/index.js';
import { checkModelFit, declaredModelConfig, loraSpecFor } from '../config/index.js';
import { loadSamCheckpoint } from '../sam/checkpoint.js';
import type { SamConfig } from '../sam/config.js';
import { bundledBasePath } from '../sam/bundled_base.js';
import { generateStateDict } from '../sam/generated_weights.js';
import { type LoraSpec, initLora, loraLayout } from '../sam/lora.js';
import type { StateDict } from '../sam/params.js';

export interface ModelSetup {
  sam: SamConfig;
  state: StateDict;
  /** Reads `state` again (the checkpoint, or the same seeded weights): for a worker that drops its copy. */
  loadState: () => Promise<StateDict>;
  /** The checkpoint file (the bundled one when model.checkpoint is null), or null for generated weights. */
  checkpoint: string | null;
  spec: LoraSpec;
  trainDecoder: boolean;
  /** Every trainable tensor's initial value and shape. */
  initial: Map<string, Float32Array>;
  shapes: Map<string, readonly number[]>;
}

export async function setupModel(config: TrainConfig): Promise<ModelSetup> {
  let sam: SamConfig;
  let state: StateDict;
  let loadState: () => Promise<StateDict>;
  let checkpoint: string | null = config.model.checkpoint;
  const declared = declaredModelConfig(config.model);
  if (checkpoint === null && config.model.variant !== 'auto' && declared) {
    // No checkpoint and a declared shape: seeded generated weights (tests, benchmarks of custom shapes).
    sam = declared;
    const seed = config.train.seed + 1;
    state = generateStateDict(sam, seed);
    loadState = () => Promise.resolve(generateStateDict(declared, seed));
  } else {
    checkpoint ??= bundledBasePath();
    const file = checkpoint;
    const stamp = fileStamp(file);
    loadState = async () => {
      // The run's fingerprint was taken of the bytes read now: a file replaced since would be other weights.
      if (fileStamp(file) !== stamp) throw new Error(`${file}: the checkpoint changed on disk (size or modification time) since this process read it; its weights cannot be read again`);
      return (await loadSamCheckpoint(file, { dheads: config.model.decoderHeads })).state;
    };
    const loaded = await loadSamCheckpoint(checkpoint, { dheads: config.model.decoderHeads });
    sam = loaded.config;
    state = loaded.state;
    checkModelFit(config, sam);
  }
  const spec = loraSpecFor(config, sam);
  const initial = new Map<string, Float32Array>();
  const shapes = new Map<string, readonly number[]>();
  for (const [key, t] of initLora(sam, spec, config.train.seed)) {
    initial.set(key, t.data);
    shapes.set(key, t.shape);
  }
  if (config.train.trainDecoder) {
    for (const [key, t] of state) {
      if (!key.startsWith('mask_decoder.')) continue;
      initial.set(key, Float32Array.from(t.data));
      shapes.set(key, t.shape);
    }
  }
  if (loraLayout(sam, spec).length === 0 && !config.train.trainDecoder) throw new Error(`${config.source}: nothing to train (no LoRA targets and train.train_decoder is false)`);
  return { sam, state, loadState, checkpoint, spec, trainDecoder: config.train.trainDecoder, initial, shapes };
}

function fileStamp(file: string): string {
  const s = statSync(file);
  return `${s.size}:${s.mtimeMs}`;
}
