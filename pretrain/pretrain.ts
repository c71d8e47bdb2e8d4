// Pretraining of a small SAM from scratch on the generated source domain, with SAM's recipe
// (Kirillov et al. 2023, appendix "Training algorithm", scaled down): every weight trained; each
// batch of images is an interactive session of 1 + refinements iterations (interactive_prompt.ts):
// the first prompt a box or one point, each later one adds a point from the error region and feeds
// back the previous mask; one optimizer update per iteration; an ambiguous first prompt (one point)
// is trained on the best of the three multimask outputs, the others on the single-mask output;
// loss focal + dice (20:1) plus the IoU head's MSE (sam/pretrain_graph.ts). AdamW with linear
// warm-up and cosine decay, gradient norm clipped at 1 (a from-scratch transformer's early spikes).
// Held-out evaluation: the source test split, each object prompted by its tight box, single mask.

import { Adam } from '../coordinator/optimizer/adam.js';
import { allFinite, clipGradNorm } from '../coordinator/optimizer/grad_clip.js';
import { learningRate } from '../coordinator/optimizer/schedule.js';
import { normalizeAndPad } from '../shared/sam/preprocess.js';
import { maskBounds } from '../shared/data/prompts.js';
import { pearson } from '../shared/metrics/correlation.js';
import { toChw } from '../shared/data/prepare.js';
import { generateSourceSample } from '../shared/data/source_domain.js';
import type { BinaryMask } from '../shared/data/types.js';
import { sampleRng } from '../shared/data/sample_rng.js';
import type { Feed, GraphSession } from '../shared/graph/runtime.js';
import { asFloat32 } from '../shared/graph/runtime.js';
import { sessionForGraph } from '../shared/graph/session_factory.js';
import { type SamConfig, lowResSize } from '../shared/sam/config.js';
import { LABEL_SLOTS } from '../shared/sam/prompt_encoder.js';
import { PRETRAIN_IO, buildPretrainGraph } from '../shared/sam/pretrain_graph.js';
import { IO } from '../shared/sam/sam_graph.js';
import type { HostTensor } from '../shared/tensor/host_tensor.js';
import type { PretrainRecipe } from './recipe.js';
import { type InteractivePrompt, errorPoint, firstPrompt, isAmbiguous, writeTokens } from './interactive_prompt.js';

/** A recipe (recipe.ts) applied to a model's weights, which it trains in place. */
export interface PretrainOptions extends Omit<PretrainRecipe, 'evalSeed'> {
  cfg: SamConfig;
  state: Map<string, HostTensor>;
  /** Seed of the source test split (default: seed), so a further phase is scored on the same images. */
  evalSeed?: number;
  threads?: number;
  log: (line: string) => void;
  /** Called after each evaluation with the weights so far (e.g. to save them: a long run leaves a usable file). */
  onEval?: (batch: number, evaluation: SourceEval) => Promise<void>;
}

export interface SourceEval {
  dice: number;
  iou: number;
  /** Pearson correlation of the predicted IoU with the real IoU over the test objects. */
  iouCorrelation: number;
  meanPredictedIou: number;
}

export interface PretrainResult {
  /** Mean loss of the first iteration (the prompt alone) over each logged window, in order. */
  losses: { batch: number; loss: number }[];
  evals: ({ batch: number } & SourceEval)[];
  seconds: number;
}

interface Sessions {
  first: GraphSession;
  first_keys: string[];
  refine: GraphSession | null;
  refine_keys: string[];
}

async function buildSessions(o: Pick<PretrainOptions, 'cfg' | 'state' | 'batch' | 'refinements' | 'threads'>): Promise<Sessions> {
  const runtime = { intraOpThreads: o.threads ?? 0, interOpThreads: 1 };
  const first = buildPretrainGraph({ config: o.cfg, state: o.state, batch: o.batch, promptTokens: 2 });
  const firstSession = await sessionForGraph(first.graph, runtime);
  if (o.refinements === 0) return { first: firstSession, first_keys: first.trainable.map((t) => t.key), refine: null, refine_keys: [] };
  const refine = buildPretrainGraph({ config: o.cfg, state: o.state, batch: o.batch, promptTokens: 2 + o.refinements, maskInput: true });
  return { first: firstSession, first_keys: first.trainable.map((t) => t.key), refine: await sessionForGraph(refine.graph, runtime), refine_keys: refine.trainable.map((t) => t.key) };
}

interface Batch {
  images: Float32Array;
  masks: BinaryMask[];
  gt: Float32Array;
}

function sourceBatch(cfg: SamConfig, seed: number, split: 'train' | 'test', indexes: readonly number[]): Batch {
  const px = cfg.img * cfg.img;
  const images = new Float32Array(indexes.length * 3 * px);
  const gt = new Float32Array(indexes.length * px);
  const masks: BinaryMask[] = [];
  indexes.forEach((index, b) => {
    const s = generateSourceSample(seed, split, index, cfg.img);
    images.set(normalizeAndPad(toChw(s.image), cfg.img, cfg.img, cfg.img), b * 3 * px);
    for (let i = 0; i < px; i++) gt[b * px + i] = s.mask.data[i]!;
    masks.push(s.mask);
  });
  return { images, masks, gt };
}

function weightFeeds(state: ReadonlyMap<string, HostTensor>, keys: readonly string[]): Record<string, Feed> {
  const feeds: Record<string, Feed> = {};
  for (const key of keys) {
    const t = state.get(key)!;
    feeds[key] = { data: t.data, shape: t.shape };
  }
  return feeds;
}

interface StepInputs {
  batch: Batch;
  prompts: InteractivePrompt[];
  slots: number;
  multimask: boolean[];
  maskInput?: Float32Array;
}

function stepFeeds(cfg: SamConfig, s: StepInputs): Record<string, Feed> {
  const n = s.prompts.length;
  const coords = new Float32Array(n * s.slots * 2);
  const labels = new Float32Array(n * s.slots * LABEL_SLOTS);
  s.prompts.forEach((p, b) => writeTokens(p, s.slots, coords, labels, b * s.slots));
  const img = cfg.img;
  const low = lowResSize(cfg);
  const feeds: Record<string, Feed> = {
    [IO.images]: { data: s.batch.images, shape: [n, 3, img, img] },
    [IO.coords]: { data: coords, shape: [n, s.slots, 2] },
    [IO.labels]: { data: labels, shape: [n, s.slots, LABEL_SLOTS] },
    [IO.gt]: { data: s.batch.gt, shape: [n, img, img] },
    [IO.valid]: { data: new Float32Array(n * img * img).fill(1), shape: [n, img, img] },
    [IO.weights]: { data: new Float32Array(n).fill(1 / n), shape: [n] },
    [PRETRAIN_IO.multimask]: { data: Float32Array.from(s.multimask, (m) => (m ? 1 : 0)), shape: [n] },
  };
  if (s.maskInput) {
    feeds[IO.maskInput] = { data: s.maskInput, shape: [n, 1, low, low] };
    feeds[IO.hasMask] = { data: new Float32Array(n).fill(1), shape: [n] };
  }
  return feeds;
}

/** The low-res logits [low * low] of token `token` of prompt `b` from low_res_logits [B, 4, low, low]. */
function tokenLogits(all: Float32Array, b: number, token: number, low: number): Float32Array {
  const size = low * low;
  return all.slice((b * 4 + token) * size, (b * 4 + token + 1) * size);
}

/** Tight-box evaluation on the source test split through the first-iteration graph (no update). */
async function evaluateSource(o: Pick<PretrainOptions, 'cfg' | 'state' | 'seed' | 'batch' | 'evalImages' | 'evalSeed'>, sessions: Sessions): Promise<SourceEval> {
  const real: number[] = [];
  const predicted: number[] = [];
  for (let from = 0; from < o.evalImages; from += o.batch) {
    const indexes = Array.from({ length: o.batch }, (_, i) => (from + i) % o.evalImages);
    const batch = sourceBatch(o.cfg, o.evalSeed ?? o.seed, 'test', indexes);
    const prompts = batch.masks.map((m): InteractivePrompt => ({ box: maskBounds(m) ?? [0, 0, m.width, m.height], points: [], labels: [] }));
    const feeds = { ...stepFeeds(o.cfg, { batch, prompts, slots: 2, multimask: prompts.map(() => false) }), ...weightFeeds(o.state, sessions.first_keys) };
    const out = await sessions.first.run(feeds, [PRETRAIN_IO.iouTarget, IO.iou]);
    const target = asFloat32(out, PRETRAIN_IO.iouTarget);
    const iou = asFloat32(out, IO.iou);
    const count = Math.min(o.batch, o.evalImages - from);
    for (let b = 0; b < count; b++) {
      real.push(target[b * 4]!);
      predicted.push(iou[b * 4]!);
    }
  }
  const meanIou = real.reduce((s, v) => s + v, 0) / real.length;
  const dice = real.reduce((s, v) => s + (2 * v) / (1 + v), 0) / real.length;
  // An undefined correlation (constant scores) is recorded as 0.
  return { dice, iou: meanIou, iouCorrelation: pearson(predicted, real) || 0, meanPredictedIou: predicted.reduce((s, v) => s + v, 0) / predicted.length };
}

/** The held-out source-domain scores of weights `state` (what the pretraining evaluation reports). */
export async function scoreSourceDomain(cfg: SamConfig, state: Map<string, HostTensor>, o: { seed: number; images: number; batch: number; threads?: number }): Promise<SourceEval> {
  const opts = { cfg, state, seed: o.seed, batch: o.batch, refinements: 0, evalImages: o.images, threads: o.threads ?? 0 };
  const sessions = await buildSessions(opts);
  try {
    return await evaluateSource(opts, sessions);
  } finally {
    await sessions.first.release();
  }
}

/** Trains o.state in place. */
export async function pretrain(o: PretrainOptions): Promise<PretrainResult> {
  const started = performance.now();
  const sessions = await buildSessions(o);
  const adam = new Adam({ lr: o.lr, weightDecay: o.weightDecay, decoupled: true });
  const updates = o.batches * (1 + o.refinements);
  const schedule = { baseLr: o.lr, warmupSteps: o.warmup, totalSteps: updates, cosine: true, minLr: o.minLr };
  const params = new Map<string, Float32Array>([...o.state].map(([k, t]) => [k, t.data]));
  const low = lowResSize(o.cfg);
  const losses: PretrainResult['losses'] = [];
  const evals: PretrainResult['evals'] = [];
  let window: number[] = [];
  let refineWindow: number[] = [];
  let update = 0;

  const step = async (session: GraphSession, keys: readonly string[], inputs: StepInputs): Promise<{ loss: number; lowRes: Float32Array; maskLoss: Float32Array }> => {
    const out = await session.run({ ...stepFeeds(o.cfg, inputs), ...weightFeeds(o.state, keys) });
    const grads = new Map(keys.map((k) => [k, asFloat32(out, `${IO.gradPrefix}${k}`)]));
    const loss = asFloat32(out, IO.loss)[0]!;
    if (!Number.isFinite(loss) || !allFinite(grads)) throw new Error(`pretraining diverged at update ${update} (loss ${loss})`);
    clipGradNorm(grads, 1);
    const subset = new Map(keys.map((k) => [k, params.get(k)!]));
    adam.step(subset, grads, learningRate(schedule, update));
    update++;
    return { loss, lowRes: asFloat32(out, IO.lowRes), maskLoss: asFloat32(out, PRETRAIN_IO.maskLoss) };
  };

  for (let bi = 0; bi < o.batches; bi++) {
    const indexes = Array.from({ length: o.batch }, (_, i) => bi * o.batch + i);
    const batch = sourceBatch(o.cfg, o.seed, 'train', indexes);
    const rngs = indexes.map((i) => sampleRng(o.seed, 0, `source/train/${i}`, 'prompt'));
    const prompts = batch.masks.map((m, b) => firstPrompt(m, rngs[b]!));
    const multimask = prompts.map(isAmbiguous);
    const first = await step(sessions.first, sessions.first_keys, { batch, prompts, slots: 2, multimask });
    window.push(first.loss);
    // The prediction each object's next iteration starts from: its best multimask token or token 0.
    let previous = prompts.map((_, b) => {
      let token = 0;
      if (multimask[b]) {
        token = 1;
        for (const t of [2, 3]) if (first.maskLoss[b * 4 + t]! < first.maskLoss[b * 4 + token]!) token = t;
      }
      return tokenLogits(first.lowRes, b, token, low);
    });
    for (let r = 0; r < o.refinements && sessions.refine; r++) {
      prompts.forEach((p, b) => {
        const e = errorPoint(batch.masks[b]!, previous[b]!, low, rngs[b]!);
        if (!e) return;
        p.points.push(e.point);
        p.labels.push(e.label);
      });
      const maskInput = new Float32Array(o.batch * low * low);
      previous.forEach((m, b) => maskInput.set(m, b * low * low));
      const out = await step(sessions.refine, sessions.refine_keys, { batch, prompts, slots: 2 + o.refinements, multimask: prompts.map(() => false), maskInput });
      refineWindow.push(out.loss);
      previous = prompts.map((_, b) => tokenLogits(out.lowRes, b, 0, low));
    }
    const last = bi === o.batches - 1;
    if ((bi + 1) % 25 === 0 || last) {
      const mean = (xs: number[]): number => xs.reduce((s, v) => s + v, 0) / Math.max(1, xs.length);
      losses.push({ batch: bi + 1, loss: mean(window) });
      const secs = (performance.now() - started) / 1000;
      o.log(`batch ${bi + 1}/${o.batches}  loss ${mean(window).toFixed(4)} (refined ${mean(refineWindow).toFixed(4)})  lr ${learningRate(schedule, update).toExponential(2)}  ${secs.toFixed(0)} s`);
      window = [];
      refineWindow = [];
    }
    if ((o.evalEvery > 0 && (bi + 1) % o.evalEvery === 0) || last) {
      const e = await evaluateSource(o, sessions);
      evals.push({ batch: bi + 1, ...e });
      o.log(`eval after batch ${bi + 1}: source test Dice ${e.dice.toFixed(4)}  IoU ${e.iou.toFixed(4)}  predicted IoU ${e.meanPredictedIou.toFixed(3)} (correlation ${e.iouCorrelation.toFixed(3)})`);
      await o.onEval?.(bi + 1, e);
    }
  }
  await sessions.first.release();
  await sessions.refine?.release();
  return { losses, evals, seconds: (performance.now() - started) / 1000 };
}
