// Training checkpoints, written atomically: each one is a directory built under a temporary name,
// fsynced, then renamed into place, and `latest.json` (itself written atomically) points at it. A
// crash at any moment leaves the previous checkpoint intact.
//
// A checkpoint holds the LoRA (native format, plus the reference project's format when it can
// express the adapters), the trained decoder weights when the decoder is trained, the optimizer
// moments, and state.json: step, epoch, position in the epoch's sample order, the samples already
// trained this epoch, the loss history, evaluations, the fp16 loss scaler's state and the resolved config.

import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { fsyncDir, writeFileAtomic, writeFileSynced } from '../shared/fs/atomic.js';
import type { SegScores } from '../shared/metrics/segmentation.js';
import type { LoraSpec } from '../shared/sam/lora.js';
import { referenceIncompatibility, saveLora } from '../shared/sam/lora_io.js';
import type { HostTensor } from '../shared/tensor/host_tensor.js';
import { readSafetensors, writeSafetensors } from '../shared/tensor/safetensors.js';
import type { EpochAccount } from './epoch_plan.js';
import type { AdamState } from './optimizer/adam.js';
import type { LossScalerState } from './optimizer/loss_scaler.js';

export interface EvalRecord extends SegScores {
  step: number;
  /** Counted from 1 (0: before training). */
  epoch: number;
}

export interface TrainerState {
  /** Training steps done (batches); the optimizer steps every gradAccumulation of them. */
  step: number;
  /** The epoch in progress (0-based). */
  epoch: number;
  /** Samples of this epoch's order already handed out. */
  epochPosition: number;
  /** Ids trained in the current epoch (to continue its accounting). */
  epochTrained: string[];
  accounts: EpochAccount[];
  losses: number[];
  evalBefore: SegScores | null;
  evals: EvalRecord[];
  best: EvalRecord | null;
  /** Evaluations without improvement (early stopping). */
  staleEvals: number;
  skippedSteps: number;
  wallSeconds: number;
  /** fp16 runs: the dynamic loss scaler (scale, good steps since its last change, overflows skipped). */
  lossScaler?: LossScalerState;
}

export interface CheckpointContent {
  state: TrainerState;
  /** Every trainable tensor by key (LoRA under native keys, decoder under checkpoint keys). */
  params: Map<string, Float32Array>;
  shapes: Map<string, readonly number[]>;
  optimizer: AdamState;
  spec: LoraSpec;
  configYaml: string;
}

const STATE = 'state.json';

const isLora = (key: string): boolean => !key.startsWith('mask_decoder.') || key.endsWith('.lora_a') || key.endsWith('.lora_b');

function tensors(keys: readonly string[], c: CheckpointContent): Map<string, HostTensor> {
  return new Map(keys.map((k) => [k, { shape: [...c.shapes.get(k)!], data: c.params.get(k)! }]));
}

export class CheckpointStore {
  constructor(readonly dir: string) {}

  /** Writes checkpoint `name` (e.g. step-00000042 or best); returns its directory. */
  async save(name: string, c: CheckpointContent, opts: { latest: boolean } = { latest: true }): Promise<string> {
    mkdirSync(this.dir, { recursive: true });
    const final = path.join(this.dir, name);
    const tmp = path.join(this.dir, `.${name}.tmp-${process.pid}`);
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp);
    const keys = [...c.params.keys()];
    const loraKeys = keys.filter(isLora);
    const decoderKeys = keys.filter((k) => !isLora(k));
    await saveLora(path.join(tmp, 'lora.safetensors'), tensors(loraKeys, c), c.spec, 'native');
    if (referenceIncompatibility(c.spec).length === 0) await saveLora(path.join(tmp, 'lora_reference.safetensors'), tensors(loraKeys, c), c.spec, 'reference');
    if (decoderKeys.length) await writeSafetensors(path.join(tmp, 'decoder.safetensors'), tensors(decoderKeys, c));
    const moments = new Map<string, HostTensor>();
    for (const k of keys) {
      const m = c.optimizer.m.get(k);
      const v = c.optimizer.v.get(k);
      if (m && v) {
        moments.set(`m.${k}`, { shape: [...c.shapes.get(k)!], data: m });
        moments.set(`v.${k}`, { shape: [...c.shapes.get(k)!], data: v });
      }
    }
    await writeSafetensors(path.join(tmp, 'optimizer.safetensors'), moments, { step: String(c.optimizer.step) });
    writeFileSynced(path.join(tmp, STATE), JSON.stringify({ ...c.state, spec: c.spec }, null, 1));
    writeFileSynced(path.join(tmp, 'config.yaml'), c.configYaml);
    fsyncDir(tmp);
    const old = path.join(this.dir, `.${name}.old-${process.pid}`);
    if (existsSync(final)) renameSync(final, old);
    renameSync(tmp, final);
    rmSync(old, { recursive: true, force: true });
    fsyncDir(this.dir);
    if (opts.latest) writeFileAtomic(path.join(this.dir, 'latest.json'), JSON.stringify({ checkpoint: name }));
    return final;
  }

  /** Name of the newest complete checkpoint, or undefined. */
  async latest(): Promise<string | undefined> {
    const file = path.join(this.dir, 'latest.json');
    if (!existsSync(file)) return undefined;
    const { checkpoint } = JSON.parse(await readFile(file, 'utf8')) as { checkpoint: string };
    return existsSync(path.join(this.dir, checkpoint, STATE)) ? checkpoint : undefined;
  }

  async load(name: string): Promise<CheckpointContent> {
    const dir = path.join(this.dir, name);
    const raw = JSON.parse(await readFile(path.join(dir, STATE), 'utf8')) as TrainerState & { spec: LoraSpec };
    const { spec, ...state } = raw;
    const params = new Map<string, Float32Array>();
    const shapes = new Map<string, readonly number[]>();
    for (const file of ['lora.safetensors', 'decoder.safetensors']) {
      if (!existsSync(path.join(dir, file))) continue;
      for (const [k, t] of (await readSafetensors(path.join(dir, file))).tensors) {
        params.set(k, t.data);
        shapes.set(k, t.shape);
      }
    }
    const opt = await readSafetensors(path.join(dir, 'optimizer.safetensors'));
    const optimizer: AdamState = { step: Number(opt.metadata.step ?? 0), m: new Map(), v: new Map() };
    for (const [k, t] of opt.tensors) {
      if (k.startsWith('m.')) optimizer.m.set(k.slice(2), t.data);
      else if (k.startsWith('v.')) optimizer.v.set(k.slice(2), t.data);
    }
    return { state, params, shapes, optimizer, spec, configYaml: await readFile(path.join(dir, 'config.yaml'), 'utf8') };
  }

  /** Keeps the newest `keep` step checkpoints (best/ and final/ are never pruned). */
  prune(keep: number | null): void {
    if (keep === null) return;
    const steps = readdirSync(this.dir)
      .filter((d) => /^step-\d+$/.test(d))
      .sort();
    for (const d of steps.slice(0, Math.max(0, steps.length - keep))) rmSync(path.join(this.dir, d), { recursive: true, force: true });
  }
}

export const stepName = (step: number): string => `step-${String(step).padStart(8, '0')}`;
