// An in-process worker: the WorkerEndpoint of shared/contract/worker_endpoint.ts over this process's own
// datasets and ORT sessions. Sample preparation is seeded by (seed, epoch, sample id) only, so a
// sample's prompt and augmentation are the same whichever worker trains it.

import { hostname } from 'node:os';
import type { EvalResult, EvalScore, EvalWork, SampleTask, StepResult, StepWork, WorkerEndpoint, WorkerPlacement } from '../shared/contract/worker_endpoint.js';
import type { TrainConfig } from '../shared/config/index.js';
import { type Dataset, type LoadedSample, type SampleRef, loadSampleFromBytes } from '../shared/data/dataset.js';
import { prepareForInference, prepareSample, type PreparedSample } from '../shared/data/prepare.js';
import { maskBounds } from '../shared/data/prompts.js';
import { sampleRng } from '../shared/data/sample_rng.js';
import type { RuntimeOptions } from '../shared/graph/runtime.js';
import { weightsHash } from '../shared/tensor/weights_hash.js';
import { meanScores, segScores } from '../shared/metrics/segmentation.js';
import { promptTokenCount } from '../shared/data/prompts.js';
import type { SamConfig } from '../shared/sam/config.js';
import type { LoraSpec } from '../shared/sam/lora.js';
import type { StateDict } from '../shared/sam/params.js';
import { memoryOptions } from '../shared/sam/memory.js';
import { InferenceCompute } from '../shared/sam/inference_compute.js';
import { TrainingCompute } from './training_compute.js';
import { FrozenWeights } from './frozen_weights.js';
import { lossScaleProblem } from '../shared/contract/loss_scale.js';
import { errorMessage } from '../shared/errors/error_message.js';

export interface WorkerModel {
  sam: SamConfig;
  state: StateDict;
  /**
   * Reads `state` again. Given (a worker process, whose copy nobody else holds): the worker drops its
   * copy once its sessions are built and reads it back only for a new graph. Omitted (in-process runs,
   * where the coordinator shares `state`): kept, as dropping would free nothing.
   */
  reloadState?: () => Promise<StateDict>;
  spec: LoraSpec;
  trainDecoder: boolean;
}

export interface LocalWorkerOptions {
  id: string;
  config: TrainConfig;
  model: WorkerModel;
  datasets: { train?: Dataset; test?: Dataset };
  runtime: RuntimeOptions;
  /** Logs which execution provider each node runs on, after the first step. */
  logPlacement?: (line: string) => void;
}

/** The process's peak resident memory so far (the compute thread shares the process). */
function peakRssBytes(): number {
  return process.resourceUsage().maxRSS * 1024;
}

export class LocalWorker implements WorkerEndpoint {
  readonly id: string;
  readonly placement: WorkerPlacement;
  private training?: TrainingCompute;
  private inference?: InferenceCompute;
  private params = new Map<string, Float32Array>();
  private version = -1;
  private hash = '';
  private readonly refs = new Map<string, { ds: Dataset; ref: SampleRef }>();
  /** The frozen weights, held only while a graph is built (see WorkerModel.reloadState). */
  readonly frozen: FrozenWeights;
  private readonly o: Omit<LocalWorkerOptions, 'model'> & { model: Omit<WorkerModel, 'state' | 'reloadState'> };

  constructor(options: LocalWorkerOptions) {
    const { state, reloadState, ...model } = options.model;
    this.o = { ...options, model };
    this.frozen = new FrozenWeights(state, reloadState);
    const o = this.o;
    this.id = o.id;
    const d = o.runtime.device ?? { kind: 'cpu' };
    this.placement = { host: hostname(), device: d.kind === 'cuda' ? `cuda:${d.deviceId}` : 'cpu' };
    for (const [split, ds] of Object.entries(o.datasets)) {
      for (const ref of ds?.samples ?? []) this.refs.set(`${split}:${ref.id}`, { ds: ds!, ref });
    }
  }

  async setWeights(version: number, params: ReadonlyMap<string, Float32Array>): Promise<void> {
    // Copies: the coordinator updates its own arrays in place.
    this.params = new Map([...params].map(([k, v]) => [k, Float32Array.from(v)]));
    this.version = version;
    this.hash = weightsHash(this.params);
  }

  private checkVersion(v: number): void {
    if (v !== this.version) throw new Error(`worker ${this.id}: asked for weights version ${v}, holds ${this.version}`);
  }

  private async load(task: SampleTask, split: 'train' | 'test'): Promise<LoadedSample> {
    // Shipped bytes need no dataset here: a worker without a shared filesystem decodes them as is.
    if (task.bytes) return loadSampleFromBytes(task.bytes);
    const entry = this.refs.get(`${split}:${task.id}`);
    if (!entry) throw new Error(`worker ${this.id}: unknown ${split} sample ${task.id}`);
    return entry.ds.load(entry.ref);
  }

  async trainStep(work: StepWork): Promise<StepResult> {
    this.checkVersion(work.weightsVersion);
    const { config, model } = this.o;
    // Before any work: a scale that does not fit this run's graph is the coordinator's mistake.
    const scaleProblem = lossScaleProblem(config.runtime.precision, work.lossScale);
    if (scaleProblem) throw new Error(`worker ${this.id}: step ${work.step}: ${scaleProblem}`);
    const t = config.train;
    this.training ??= await TrainingCompute.create({
      config: model.sam,
      state: await this.frozen.take(),
      lora: model.spec,
      trainDecoder: model.trainDecoder,
      // Memory stays at this many images' peak whatever the share's size (train.micro_batch).
      microBatch: t.microBatch,
      objectsPerImage: t.objectsPerImage,
      promptTokens: promptTokenCount({ mode: t.prompt.mode, points: t.prompt.points, negativePoints: t.prompt.negativePoints }),
      runtime: this.o.runtime,
      memory: memoryOptions(t.memory, t.attentionChunkMb),
      precision: config.runtime.precision,
      ...(this.o.logPlacement ? { logPlacement: this.o.logPlacement } : {}),
    });
    // The session has its own copy: the step's peak need not hold ours too.
    this.frozen.release();
    const prepared: PreparedSample[] = [];
    const failed: StepResult['failed'] = [];
    for (const task of work.samples) {
      try {
        const sample = await this.load(task, 'train');
        prepared.push(
          await prepareSample(sample, {
            img: model.sam.img,
            promptMode: t.prompt.mode,
            points: t.prompt.points,
            negativePoints: t.prompt.negativePoints,
            jitter: t.prompt.boxJitter,
            boxProbability: t.prompt.boxProbability,
            objectsPerImage: t.objectsPerImage,
            augment: { flip: t.augment.hflip, brightness: t.augment.brightness, contrast: t.augment.contrast, saturation: t.augment.saturation },
            rng: sampleRng(t.seed, work.epoch, task.id),
          }),
        );
      } catch (err) {
        failed.push({ id: task.id, reason: errorMessage(err) });
      }
    }
    if (prepared.length === 0) {
      const grads = new Map(this.training.trainable.map((tr) => [tr.key, new Float32Array(tr.shape.reduce((a, b) => a * b, 1))]));
      return { step: work.step, grads, weightSum: 0, lossSum: 0, samples: [], failed, computeSeconds: 0, weightsHash: this.hash, peakRssBytes: peakRssBytes() };
    }
    const r = await this.training.run(prepared, this.params, work.lossScale);
    return {
      step: work.step,
      // An overflow's gradients are Inf/NaN and unused: none are returned (as over the wire).
      grads: r.overflow ? new Map() : r.grads,
      weightSum: r.weightSum,
      lossSum: r.lossSum,
      samples: r.samples,
      failed,
      computeSeconds: r.computeSeconds,
      weightsHash: this.hash,
      peakRssBytes: peakRssBytes(),
      ...(r.overflow ? { overflow: true } : {}),
    };
  }

  /** Dice/IoU per image at the original resolution, each object prompted by its tight box. */
  async evaluate(work: EvalWork, split: 'train' | 'test' = 'test'): Promise<EvalResult> {
    this.checkVersion(work.weightsVersion);
    const { model } = this.o;
    this.inference ??= new InferenceCompute({ config: model.sam, state: () => this.frozen.take(), lora: model.spec, trainDecoder: model.trainDecoder, runtime: this.o.runtime });
    const scores: EvalScore[] = [];
    const failed: EvalResult['failed'] = [];
    for (const task of work.samples) {
      try {
        const sample = await this.load(task, split);
        const objects = sample.objects.filter((m) => maskBounds(m) !== null);
        const prompts = objects.map((m) => ({ box: maskBounds(m)! }));
        const prepared = await prepareForInference(sample, prompts, { img: model.sam.img });
        const emb = await this.inference.encode(prepared.image, this.params);
        const per = [];
        for (const [i, obj] of prepared.objects.entries()) {
          const pred = await this.inference.decode(emb, obj.prompt, this.params, prepared);
          per.push(segScores(pred.masks, objects[i]!.data));
        }
        scores.push({ id: task.id, ...meanScores(per), objects: per.length });
      } catch (err) {
        failed.push({ id: task.id, reason: errorMessage(err) });
      }
    }
    // The graphs this evaluation needed are built (each session has its own copy).
    this.frozen.release();
    return { scores, failed };
  }

  async close(): Promise<void> {
    await this.training?.release();
    await this.inference?.release();
  }
}
