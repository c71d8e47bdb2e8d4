// The worker's training step: prepared samples + current trainable weights -> the gradient of
// sum_i(w_i * loss_i) over its samples (w_i = 1 per real object, 0 for padding), which the
// coordinator adds up across workers and divides by the total weight. Samples run in micro-batches
// of the graph's static batch size; a short last micro-batch is padded with zero-weight copies.

import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { describePlacement, placementFromProfile } from '../shared/graph/placement.js';
import { sessionForGraph } from '../shared/graph/session_factory.js';
import { asFloat32, type Feed, type GraphSession, type RuntimeOptions } from '../shared/graph/runtime.js';
import type { Precision } from '../shared/config/index.js';
import type { PreparedSample } from '../shared/data/prepare.js';
import { collateBatch } from '../shared/data/prepare.js';
import type { SamConfig } from '../shared/sam/config.js';
import type { LoraSpec } from '../shared/sam/lora.js';
import type { MemoryOptions } from '../shared/sam/memory.js';
import type { StateDict } from '../shared/sam/params.js';
import { IO, buildTrainingGraph } from '../shared/sam/sam_graph.js';
import { lossScaleProblem } from '../shared/contract/loss_scale.js';

export interface TrainingComputeOptions {
  config: SamConfig;
  state: StateDict;
  lora: LoraSpec;
  trainDecoder: boolean;
  /** Images per session run (the graph's static batch; train.micro_batch). */
  microBatch: number;
  objectsPerImage: number;
  promptTokens: number;
  runtime: RuntimeOptions;
  /** Which encoder blocks the backward pass recomputes (train.memory); none when omitted. */
  memory?: MemoryOptions;
  /** fp16: the graph runs matmuls and convolutions in fp16 and takes a loss scale each run (default fp32). */
  precision?: Precision;
  /** Reports, after the first step, which execution provider ORT put each node on. */
  logPlacement?: (line: string) => void;
}

export interface SampleLoss {
  id: string;
  /** Mean loss over the sample's real objects (NaN when it had none). */
  loss: number;
  weight: number;
}

export interface GradientSum {
  /** d/dθ of sum_i w_i loss_i for every trainable tensor. */
  grads: Map<string, Float32Array>;
  weightSum: number;
  lossSum: number;
  samples: SampleLoss[];
  computeSeconds: number;
  /** fp16: some gradient is Inf or NaN (the loss scale overflowed fp16); the step must be skipped. */
  overflow: boolean;
}

export class TrainingCompute {
  private constructor(
    private readonly session: GraphSession,
    readonly trainable: readonly { key: string; shape: readonly number[] }[],
    private readonly opts: Omit<TrainingComputeOptions, 'state'>,
  ) {}

  private profileDir?: string;

  static async create(opts: TrainingComputeOptions): Promise<TrainingCompute> {
    const built = buildTrainingGraph({
      config: opts.config,
      state: opts.state,
      lora: opts.lora,
      trainDecoder: opts.trainDecoder,
      batch: opts.microBatch,
      promptsPerImage: opts.objectsPerImage,
      promptTokens: opts.promptTokens,
      ...(opts.memory ? { memory: opts.memory } : {}),
      ...(opts.precision ? { precision: opts.precision } : {}),
    });
    // The first step is profiled once: the profile names each node's execution provider.
    const profileDir = opts.logPlacement ? mkdtempSync(path.join(tmpdir(), 'samlora-placement-')) : undefined;
    // No weight prepacking: every frozen weight feeds forward and backward kernels, each of which
    // would keep a packed copy. When recomputing (memory first), no CPU arena either: it keeps the
    // step's high-water mark, fragmented, for good. ViT-B batch 1, all: 3.19 -> 2.44 GB peak at the
    // same CPU time; smaller models pay some (1024-px fixture: 1.8 -> 2.2 CPU s); README "Training-step memory".
    const base = { prepacking: false, memArena: !opts.memory || opts.memory.mode === 'none', ...opts.runtime };
    const runtime = profileDir ? { ...base, profilePrefix: path.join(profileDir, 'step') } : base;
    // Not the frozen weights: the session has its own copy, and the caller may drop theirs.
    const { state: _state, ...kept } = opts;
    const c = new TrainingCompute(await sessionForGraph(built.graph, runtime), built.trainable, kept);
    c.profileDir = profileDir;
    return c;
  }

  private reportPlacement(): void {
    const dir = this.profileDir;
    if (!dir) return;
    this.profileDir = undefined;
    try {
      this.session.endProfiling();
      const file = readdirSync(dir).find((f) => f.endsWith('.json'));
      this.opts.logPlacement?.(file ? describePlacement(placementFromProfile(path.join(dir, file))) : 'node placement: ORT wrote no profile');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  get precision(): Precision {
    return this.opts.precision ?? 'fp32';
  }

  /** `lossScale`: fp16 graphs only (required there); the gradients come back multiplied by it. */
  async run(samples: readonly PreparedSample[], params: ReadonlyMap<string, Float32Array>, lossScale?: number): Promise<GradientSum> {
    const problem = lossScaleProblem(this.precision, lossScale);
    if (problem) throw new Error(`training step: ${problem}`);
    const start = performance.now();
    const grads = new Map(this.trainable.map((t) => [t.key, new Float32Array(t.shape.reduce((a, b) => a * b, 1))]));
    const paramFeeds: Record<string, Feed> = {};
    for (const t of this.trainable) {
      const p = params.get(t.key);
      if (!p) throw new Error(`training step: no value for trainable tensor ${t.key}`);
      paramFeeds[t.key] = { data: p, shape: t.shape };
    }
    if (lossScale !== undefined) paramFeeds[IO.lossScale] = { data: new Float32Array([lossScale]), shape: [] };
    const mb = this.opts.microBatch;
    const out: SampleLoss[] = [];
    let weightSum = 0;
    let lossSum = 0;
    for (let start = 0; start < samples.length; start += mb) {
      const chunk = samples.slice(start, start + mb);
      const real = chunk.length;
      while (chunk.length < mb) chunk.push(zeroWeight(chunk[0]!));
      const feeds: Record<string, Feed> = { ...collateBatch(chunk), ...paramFeeds };
      // Raw object weights (0/1): the coordinator normalises by the step's total weight.
      const w = new Float32Array(chunk.flatMap((s) => s.objects.map((o) => o.weight)));
      feeds[IO.weights] = { data: w, shape: [w.length] };
      const r = await this.session.run(feeds);
      this.reportPlacement();
      for (const t of this.trainable) {
        const g = asFloat32(r, `${IO.gradPrefix}${t.key}`);
        const acc = grads.get(t.key)!;
        for (let i = 0; i < g.length; i++) acc[i] = acc[i]! + g[i]!;
      }
      lossSum += asFloat32(r, IO.loss)[0]!;
      const per = asFloat32(r, IO.perSample);
      const k = this.opts.objectsPerImage;
      chunk.slice(0, real).forEach((s, i) => {
        let sw = 0;
        let sl = 0;
        s.objects.forEach((o, j) => {
          sw += o.weight;
          sl += o.weight * per[i * k + j]!;
        });
        weightSum += sw;
        out.push({ id: s.id, loss: sw > 0 ? sl / sw : Number.NaN, weight: sw });
      });
    }
    // Under fp16 an Inf or NaN gradient is the loss scale's overflow, reported as such (fp32 has none to report).
    const overflow = this.precision === 'fp16' && !allFinite(grads);
    return { grads, weightSum, lossSum, samples: out, computeSeconds: (performance.now() - start) / 1000, overflow };
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

/** Whether every gradient element is finite (`z += v * 0` turns NaN at the first Inf or NaN). */
function allFinite(grads: ReadonlyMap<string, Float32Array>): boolean {
  let z = 0;
  for (const g of grads.values()) for (let i = 0; i < g.length; i++) z += g[i]! * 0;
  return z === 0;
}

function zeroWeight(s: PreparedSample): PreparedSample {
  return { ...s, id: `${s.id}#pad`, objects: s.objects.map((o) => ({ ...o, weight: 0 })) };
}
