// One device's training check: the training graph of the tiny built-in variant (generated weights,
// two generated demo images, LoRA rank 4 on q/v), a few steps with the same parameters the CPU
// reference used, and what a GPU user needs to know: loss and gradients against the CPU, where ORT
// placed each node, step time, bytes copied in and out per step, peak memory.

import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { TINY_VARIANT } from '../shared/config/defaults.js';
import { collateBatch, type PreparedSample, prepareSample } from '../shared/data/prepare.js';
import { generateDemoSample } from '../shared/data/demo_data.js';
import { sampleRng } from '../shared/data/sample_rng.js';
import type { CudaSettings } from '../shared/graph/cuda_settings.js';
import { placementFromProfile } from '../shared/graph/placement.js';
import { asFloat32, type Device, type Feed, type RunTransfer } from '../shared/graph/runtime.js';
import { sessionForGraph } from '../shared/graph/session_factory.js';
import { Rng } from '../shared/random/rng.js';
import type { SamConfig } from '../shared/sam/config.js';
import { generateStateDict } from '../shared/sam/generated_weights.js';
import { defaultLoraSpec, initLora } from '../shared/sam/lora.js';
import { buildTrainingGraph, IO } from '../shared/sam/sam_graph.js';

/** The check's model: the embedded demo job's variant (README: TINY_VARIANT), 8 decoder heads. */
export const CHECK_MODEL: Readonly<SamConfig> = Object.freeze({ ...TINY_VARIANT, glob: [...TINY_VARIANT.glob], dheads: 8 });
const BATCH = 2;
const RANK = 4;
/** SGD step of the reference run: parameters change between steps, so every step checks new values. */
const LR = 0.05;

/**
 * Agreement a GPU must reach with the CPU. TF32 rounds matmul and convolution inputs to a 10-bit
 * mantissa (relative error ~5e-4 per product), which compounds through the encoder and backward pass.
 */
export const TOLERANCES = {
  tf32: { lossRel: 1e-2, gradRelL2: 5e-2 },
  fp32: { lossRel: 1e-3, gradRelL2: 5e-3 },
} as const;

export interface StepRecord {
  loss: number;
  seconds: number;
}

export interface RunResult {
  steps: StepRecord[];
  /** The parameters fed at each step (the reference run's SGD trajectory). */
  params: Map<string, Float32Array>[];
  /** Gradients of every step. */
  grads: Map<string, Float32Array>[];
  transfer: RunTransfer;
  /** Nodes per execution provider, and the op types that ran on the CPU provider (GPU runs). */
  placement: Record<string, number>;
  cpuOps: string[];
}

export interface DeviceCheckOptions {
  device: Device;
  steps: number;
  threads?: number;
  cuda?: CudaSettings;
  /** Follow these parameters (from the CPU reference) instead of taking SGD steps. */
  params?: Map<string, Float32Array>[];
}

async function checkSamples(cfg: SamConfig): Promise<PreparedSample[]> {
  const out: PreparedSample[] = [];
  for (let i = 0; i < BATCH; i++) {
    const demo = generateDemoSample(0, 'train', i, cfg.img);
    const id = `doctor/${i}`;
    out.push(await prepareSample({ id, image: demo.image, objects: [demo.mask] }, { img: cfg.img, promptMode: 'box', jitter: 0, objectsPerImage: 1, rng: sampleRng(0, 0, id) }));
  }
  return out;
}

/** LoRA as initialised for training, with B made small and non-zero so that A's gradient is not zero. */
function initialParams(cfg: SamConfig): Map<string, Float32Array> {
  const lora = initLora(cfg, defaultLoraSpec(cfg, RANK), 0);
  const rng = new Rng(7);
  const out = new Map<string, Float32Array>();
  for (const [key, t] of lora) {
    const data = Float32Array.from(t.data);
    if (key.includes('.b_')) for (let i = 0; i < data.length; i++) data[i] = rng.uniform(-0.02, 0.02);
    out.set(key, data);
  }
  return out;
}

export async function runTrainingCheck(o: DeviceCheckOptions): Promise<RunResult> {
  if (!(Number.isInteger(o.steps) && o.steps >= 2)) throw new Error(`steps must be an integer >= 2 (got ${o.steps})`);
  if (o.params && o.params.length < o.steps) throw new Error(`the reference has ${o.params.length} steps, ${o.steps} asked`);
  const cfg = CHECK_MODEL;
  const built = buildTrainingGraph({ config: cfg, state: generateStateDict(cfg, 1), lora: defaultLoraSpec(cfg, RANK), trainDecoder: false, batch: BATCH, promptsPerImage: 1, promptTokens: 2 });
  const batch: Record<string, Feed> = collateBatch(await checkSamples(cfg));
  const profileDir = mkdtempSync(path.join(tmpdir(), 'samlora-doctor-'));
  try {
    const session = await sessionForGraph(built.graph, {
      device: o.device,
      ...(o.threads ? { intraOpThreads: o.threads } : {}),
      ...(o.cuda ? { cuda: o.cuda } : {}),
      profilePrefix: path.join(profileDir, 'step'),
    });
    try {
      const result: RunResult = { steps: [], params: [], grads: [], transfer: { feedBytes: 0, fetchBytes: 0 }, placement: {}, cpuOps: [] };
      let params = initialParams(cfg);
      for (let step = 0; step < o.steps; step++) {
        if (o.params) params = o.params[step]!;
        const feeds: Record<string, Feed> = { ...batch };
        for (const t of built.trainable) {
          const p = params.get(t.key);
          if (!p) throw new Error(`no value for trainable tensor ${t.key}`);
          feeds[t.key] = { data: p, shape: t.shape };
        }
        const t0 = performance.now();
        const r = await session.run(feeds);
        const seconds = (performance.now() - t0) / 1000;
        if (step === 0) {
          // Only the first step is profiled: the profile names each node's execution provider.
          session.endProfiling();
          const file = readdirSync(profileDir).find((f) => f.endsWith('.json'));
          if (file) {
            const placement = placementFromProfile(path.join(profileDir, file));
            result.placement = Object.fromEntries(placement.byProvider);
            if (o.device.kind === 'cuda') result.cpuOps = [...(placement.opsByProvider.get('CPUExecutionProvider') ?? [])].sort();
          }
        }
        const grads = new Map(built.trainable.map((t) => [t.key, Float32Array.from(asFloat32(r, `${IO.gradPrefix}${t.key}`))]));
        result.steps.push({ loss: asFloat32(r, IO.loss)[0]!, seconds });
        result.params.push(params);
        result.grads.push(grads);
        result.transfer = session.lastTransfer;
        if (!o.params) params = new Map([...params].map(([k, v]) => [k, v.map((x, i) => x - LR * grads.get(k)![i]!)]));
      }
      return result;
    } finally {
      await session.release();
    }
  } finally {
    rmSync(profileDir, { recursive: true, force: true });
  }
}

export interface Agreement {
  /** max over steps of |loss - ref| / max(|ref|, 1e-6). */
  lossRel: number;
  /** max over steps and tensors of ||g - ref|| / max(||ref||, 1e-12). */
  gradRelL2: number;
  /** The tensor and step of the worst gradient. */
  worstGrad: string;
}

export function compareRuns(run: RunResult, ref: RunResult): Agreement {
  let lossRel = 0;
  let gradRelL2 = 0;
  let worstGrad = '';
  run.steps.forEach((s, i) => {
    const r = ref.steps[i]!.loss;
    const d = Number.isFinite(s.loss) ? Math.abs(s.loss - r) / Math.max(Math.abs(r), 1e-6) : Number.POSITIVE_INFINITY;
    lossRel = Math.max(lossRel, d);
    for (const [key, g] of run.grads[i]!) {
      const gr = ref.grads[i]!.get(key)!;
      let num = 0;
      let den = 0;
      for (let j = 0; j < g.length; j++) {
        num += (g[j]! - gr[j]!) ** 2;
        den += gr[j]! ** 2;
      }
      const rel = Number.isFinite(num) ? Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-12) : Number.POSITIVE_INFINITY;
      if (rel > gradRelL2 || worstGrad === '') {
        gradRelL2 = rel;
        worstGrad = `${key} (step ${i + 1})`;
      }
    }
  });
  return { lossRel, gradRelL2, worstGrad };
}

/** Median step time, leaving out the first (profiled, and ORT allocates on it). */
export function medianStepSeconds(steps: readonly StepRecord[]): number {
  const s = steps.slice(1).map((x) => x.seconds).sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
