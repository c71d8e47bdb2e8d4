// One measurement in its own process, so that its peak RSS is its own: builds the training graph
// (train_step) or the inference graph (forward) of one variant, creates a CPU session, runs warm-up
// steps then measured steps, and prints one JSON line on stdout:
//   {"bench", "variant", "batch", "micro_batch", "threads", "memory_mode", "median_s", "cpu_s", "peak_rss_bytes", "feed_bytes_per_step", "fetch_bytes_per_step"}
// A training step runs as the worker runs it (worker/training_compute.ts): the graph holds
// --micro-batch images (default train.micro_batch's, 1), and a step of --batch images is
// ceil(batch / micro-batch) session runs, the last padded with zero-weight copies, their gradients
// summed. --micro-batch equal to --batch measures one run of the whole batch's graph. A forward pass
// runs the whole batch at once (micro_batch = batch).
// Everything else (graph build / session creation times, per-step times, profile summary) goes to
// stderr. Graph building and session creation are not part of the step time.
//
// node dist/bench/sam_step.js --variant sam-tiny|vit_b --bench train_step|forward --batch 1
//   [--threads 2] [--steps N] [--warmup N] [--fixtures DIR] [--profile DIR] [--arena on|off]
//   [--memory none|global|all] [--attention-chunk-mb N] [--prepack on|off] [--micro-batch M]

import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { GraphSession, type Feed } from '../shared/graph/runtime.js';
import { modelToBytes, saveModel } from '../shared/graph/serialize.js';
import { DEFAULT_ATTENTION_CHUNK_MB, type MemoryOptions, parseMemoryMode } from '../shared/sam/memory.js';
import { IO, buildInferenceGraph, buildTrainingGraph } from '../shared/sam/sam_graph.js';
import { DEFAULT_MICRO_BATCH } from '../shared/config/defaults.js';
import type { SamConfig } from '../shared/sam/config.js';
import type { HostTensor } from '../shared/tensor/host_tensor.js';
import { FIXTURES } from '../tests/helpers/fixtures.js';
import { BOX_TOKENS, GENERATED, type BenchModel, type GeneratedName, type Sample, batchSamples, benchLora, benchLoraSpec, forwardFeeds, generatedModel, loadFixtureModel, trainFeeds } from './inputs.js';
import { formatSummary, readProfile, summarizeProfile } from './profile_summary.js';
import { BENCHES, type BenchKind, type BenchResult, median } from './result.js';
import { errorWithStack } from '../shared/errors/error_message.js';

interface StepOptions {
  variant: string;
  bench: BenchKind;
  batch: number;
  /** Images per session run: the graph's static batch (train_step; forward: the batch). */
  microBatch: number;
  threads: number;
  /** Measured steps; default: 2 for generated (ViT-B), else 20 / 10 / 5 / 3 by the last warm-up step's time. */
  steps?: number;
  /** Unmeasured steps first; default 2 (ORT's second run still allocates: it sets up the memory pattern), 1 for ViT-B. */
  warmup?: number;
  fixtures: string;
  profileDir?: string;
  /** ORT's CPU memory arena; as the worker's training sessions: off when recomputing (global, all), else on. */
  memArena: boolean;
  /** The training graph's recomputation (ignored by forward). */
  memory: MemoryOptions;
  /** ORT's weight prepacking; off for train_step (as the worker's training sessions), on for forward. */
  prepacking: boolean;
}

/** Models above this size go through a file (saveModel, loaded by path) instead of in-memory bytes. */
const FILE_MODEL_BYTES = 256 * 2 ** 20;

const t = (): number => performance.now() / 1000;

function peakRssBytes(): number {
  return process.resourceUsage().maxRSS * 1024;
}

const gib = (b: number): string => (b >= 2 ** 30 ? `${(b / 2 ** 30).toFixed(2)} GiB` : `${(b / 2 ** 20).toFixed(1)} MiB`);

async function loadModel(o: StepOptions): Promise<BenchModel> {
  if (o.variant in GENERATED) return generatedModel(o.variant as GeneratedName);
  const dir = path.join(o.fixtures, o.variant);
  if (!existsSync(path.join(dir, 'meta.json'))) throw new Error(`variant ${o.variant}: no fixture directory ${dir} (and not one of ${Object.keys(GENERATED).join(', ')})`);
  return loadFixtureModel(dir);
}

interface Prepared {
  session: GraphSession;
  /** One feed set per session run of a step (train_step: one per micro-batch). */
  runs: Record<string, Feed>[];
  cleanup: () => void;
}

/**
 * The step's samples in runs of `microBatch`, each with its feeds; weights 1 / batch for every real
 * sample (the batch graph's), 0 for the copies that pad the last run (as the worker pads it).
 */
function trainRunFeeds(cfg: SamConfig, samples: Sample[], microBatch: number, lora: Map<string, HostTensor>): Record<string, Feed>[] {
  const runs: Record<string, Feed>[] = [];
  for (let start = 0; start < samples.length; start += microBatch) {
    const chunk = samples.slice(start, start + microBatch);
    const real = chunk.length;
    while (chunk.length < microBatch) chunk.push(chunk[0]!);
    const feeds = trainFeeds(cfg, chunk, lora);
    const w = new Float32Array(microBatch).fill(1 / samples.length);
    w.fill(0, real);
    feeds[IO.weights] = { data: w, shape: [microBatch] };
    runs.push(feeds);
  }
  return runs;
}

/** Everything before the first step. The model's weights and the graph go out of scope on return. */
async function prepare(o: StepOptions, log: (s: string) => void): Promise<Prepared> {
  let t0 = t();
  const model = await loadModel(o);
  const cfg = model.config;
  log(`weights ready in ${(t() - t0).toFixed(2)} s (img ${cfg.img}, dim ${cfg.dim}, depth ${cfg.depth})`);
  const spec = benchLoraSpec(cfg);
  const lora = benchLora(cfg, spec);
  const samples = batchSamples(model, o.batch);
  const runs = o.bench === 'train_step' ? trainRunFeeds(cfg, samples, o.microBatch, lora) : [forwardFeeds(cfg, samples, lora)];
  const real = samples.filter((s) => !s.synthetic).length;
  log(`inputs: ${real} real + ${samples.length - real} synthetic image(s), box prompts, LoRA rank ${spec.rank} on ${spec.targets.join('/')}`);
  log(`a step: ${runs.length} session run(s) of the batch-${o.microBatch} graph${runs.length > 1 ? ', gradients summed' : ''}`);

  t0 = t();
  const opts = { config: cfg, state: model.state, lora: spec, batch: o.microBatch, promptTokens: BOX_TOKENS, memory: o.memory };
  const built = o.bench === 'train_step' ? buildTrainingGraph(opts) : buildInferenceGraph(opts);
  const weightBytes = built.graph.initializerBytes();
  log(`graph built in ${(t() - t0).toFixed(2)} s: ${built.graph.nodes.length} nodes, ${gib(weightBytes)} of weights`);

  t0 = t();
  let modelSource: string | Uint8Array;
  let tmp: string | undefined;
  if (weightBytes > FILE_MODEL_BYTES) {
    tmp = mkdtempSync(path.join(tmpdir(), 'samlora-bench-'));
    modelSource = path.join(tmp, `${o.bench}.onnx`);
    saveModel(built.graph, modelSource, process.env.SAMLORA_EXP_EXT ? { externalThresholdBytes: 0 } : {});
  } else {
    modelSource = modelToBytes(built.graph);
  }
  // The model file (or bytes) now holds the weights: drop the JS copies before ORT makes its own,
  // so they are not resident alongside ORT's during session creation and every step.
  built.graph.initializers.clear();
  model.state.clear();
  (globalThis as { gc?: () => void }).gc?.(); // V8 does not see ORT's allocations: it would not collect them in time
  log(`serialised in ${(t() - t0).toFixed(2)} s${typeof modelSource === 'string' ? ` to ${modelSource}` : ` (${gib(modelSource.byteLength)} in memory)`}`);

  t0 = t();
  let profilePrefix: string | undefined;
  if (o.profileDir) {
    mkdirSync(o.profileDir, { recursive: true });
    profilePrefix = path.join(path.resolve(o.profileDir), profileBase(o));
  }
  const session = await GraphSession.create(modelSource, {
    intraOpThreads: o.threads,
    prepacking: o.prepacking,
    ...(profilePrefix ? { profilePrefix } : {}),
    memArena: o.memArena,
  });
  log(`session created in ${(t() - t0).toFixed(2)} s; peak RSS so far ${gib(peakRssBytes())}`);
  // Feed what the graph declares (a graph binds only the LoRA tensors it applies).
  const declared = new Set(session.inputNames);
  const missing = [...declared].filter((n) => !(n in runs[0]!));
  if (missing.length) throw new Error(`no feed for graph input(s) ${missing.join(', ')}`);
  const used = runs.map((feeds) => Object.fromEntries(Object.entries(feeds).filter(([k]) => declared.has(k))));
  return { session, runs: used, cleanup: () => tmp && rmSync(tmp, { recursive: true, force: true }) };
}

function profileBase(o: StepOptions): string {
  return `${o.bench}_${o.variant}_b${o.batch}${o.microBatch !== o.batch ? `_mb${o.microBatch}` : ''}`;
}

function latestProfile(prefix: string): string | undefined {
  const dir = path.dirname(prefix);
  const base = path.basename(prefix);
  const files = readdirSync(dir)
    .filter((f) => f.startsWith(`${base}_`) && f.endsWith('.json'))
    .map((f) => path.join(dir, f))
    .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  return files[0];
}

/** Runs one measurement; returns the result (the CLI prints it). */
async function runStep(o: StepOptions): Promise<BenchResult> {
  const tag = `[${o.bench} ${o.variant} b${o.batch}${o.microBatch !== o.batch ? ` mb${o.microBatch}` : ''} t${o.threads} ${o.memory.mode}]`;
  const log = (s: string): void => void process.stderr.write(`${tag} ${s} [rss ${gib(process.memoryUsage.rss())}, peak ${gib(peakRssBytes())}]\n`);
  const { session, runs, cleanup } = await prepare(o, log);
  (globalThis as { gc?: () => void }).gc?.();
  await new Promise((r) => setTimeout(r, 50)); // array buffers are freed by a background sweeper
  (globalThis as { gc?: () => void }).gc?.();
  const m = process.memoryUsage();
  log(`ready to step (garbage collected; JS heap ${gib(m.heapUsed)}, array buffers ${gib(m.arrayBuffers)})`);
  try {
    let cpuS = 0;
    let wallS = 0;
    const cpuTimes: number[] = [];
    let feedBytes = 0;
    let fetchBytes = 0;
    // One step: every run, and (train_step) the sum of the runs' gradients, as the worker does it.
    const step = async (): Promise<number> => {
      const c0 = process.cpuUsage();
      const t0 = t();
      const grads = new Map<string, Float32Array>();
      feedBytes = fetchBytes = 0;
      for (const feeds of runs) {
        const out = await session.run(feeds);
        feedBytes += session.lastTransfer.feedBytes;
        fetchBytes += session.lastTransfer.fetchBytes;
        const key = o.bench === 'train_step' ? IO.loss : IO.iou;
        const v = (out[key]!.data as Float32Array)[0]!;
        if (!Number.isFinite(v)) throw new Error(`${key} is ${v}`);
        if (o.bench !== 'train_step') continue;
        for (const [name, f] of Object.entries(out)) {
          if (!name.startsWith(IO.gradPrefix)) continue;
          const g = f.data as Float32Array;
          let acc = grads.get(name);
          if (!acc) grads.set(name, (acc = new Float32Array(g.length)));
          for (let i = 0; i < g.length; i++) acc[i] = acc[i]! + g[i]!;
        }
      }
      const dt = t() - t0;
      const c = process.cpuUsage(c0);
      cpuS += (c.user + c.system) / 1e6;
      cpuTimes.push((c.user + c.system) / 1e6);
      wallS += dt;
      if (o.bench === 'train_step' && grads.size === 0) throw new Error('the training graph returned no gradients');
      return dt;
    };
    const warmup = o.warmup ?? (o.variant in GENERATED ? 1 : 2);
    const warm: number[] = [];
    for (let i = 0; i < warmup; i++) warm.push(await step());
    log(`warm-up: ${warm.length ? `${warm.map((x) => x.toFixed(3)).join(', ')} s` : 'none'}`);
    const last = warm.at(-1) ?? 0;
    const steps = o.steps ?? (o.variant in GENERATED ? 2 : last < 0.1 ? 20 : last < 0.5 ? 10 : last < 5 ? 5 : 3);
    const times: number[] = [];
    cpuS = wallS = 0;
    cpuTimes.length = 0;
    for (let i = 0; i < steps; i++) times.push(await step());
    // Well below `threads` means the cores were busy with something else: the times are inflated.
    log(`steps: ${times.map((x) => x.toFixed(3)).join(', ')} s; CPU/wall ${(cpuS / wallS).toFixed(2)} (of ${o.threads} threads)`);
    if (o.profileDir) {
      session.endProfiling();
      const file = latestProfile(path.join(path.resolve(o.profileDir), profileBase(o)));
      if (file) {
        log(`profile: ${file} (summary leaves out the ${warmup} warm-up step(s); profiling slows the steps a little)`);
        process.stderr.write(`${formatSummary(summarizeProfile(readProfile(file), { skipRuns: warmup * runs.length }))}\n`);
      } else {
        log(`profile: no file found under ${o.profileDir}`);
      }
    }
    const result: BenchResult = {
      bench: o.bench,
      variant: o.variant,
      batch: o.batch,
      micro_batch: o.microBatch,
      threads: o.threads,
      memory_mode: o.memory.mode,
      median_s: median(times),
      cpu_s: median(cpuTimes),
      peak_rss_bytes: peakRssBytes(),
      feed_bytes_per_step: feedBytes,
      fetch_bytes_per_step: fetchBytes,
    };
    log(`median ${result.median_s.toFixed(4)} s (min ${Math.min(...times).toFixed(4)} s), peak RSS ${gib(result.peak_rss_bytes)}`);
    return result;
  } finally {
    await session.release();
    cleanup();
  }
}

function positiveInt(name: string, v: string | undefined, dflt?: number): number {
  if (v === undefined) {
    if (dflt === undefined) throw new Error(`--${name} is required`);
    return dflt;
  }
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer (got ${v})`);
  return n;
}

function parseStepArgs(argv: string[]): StepOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      variant: { type: 'string' },
      bench: { type: 'string', default: 'train_step' },
      batch: { type: 'string', default: '1' },
      threads: { type: 'string', default: '2' },
      steps: { type: 'string' },
      warmup: { type: 'string' },
      fixtures: { type: 'string', default: FIXTURES },
      profile: { type: 'string' },
      arena: { type: 'string' },
      memory: { type: 'string', default: 'none' },
      'attention-chunk-mb': { type: 'string' },
      prepack: { type: 'string' },
      'micro-batch': { type: 'string' },
    },
  });
  if (!values.variant) throw new Error('--variant is required (a fixture directory name or vit_b)');
  if (!(BENCHES as readonly string[]).includes(values.bench!)) throw new Error(`--bench must be one of ${BENCHES.join(', ')} (got ${values.bench})`);
  const batch = positiveInt('batch', values.batch);
  if (values.bench === 'forward' && values['micro-batch'] !== undefined) throw new Error('--micro-batch applies to --bench train_step only');
  const o: StepOptions = {
    variant: values.variant,
    bench: values.bench as BenchKind,
    batch,
    microBatch: values.bench === 'forward' ? batch : positiveInt('micro-batch', values['micro-batch'], DEFAULT_MICRO_BATCH),
    threads: positiveInt('threads', values.threads),
    fixtures: values.fixtures!,
    memory: {
      mode: values.bench === 'forward' ? 'none' : parseMemoryMode(values.memory!, '--memory'),
      attentionChunkBytes: positiveInt('attention-chunk-mb', values['attention-chunk-mb'], DEFAULT_ATTENTION_CHUNK_MB) * 2 ** 20,
    },
    prepacking: values.prepack === undefined ? values.bench === 'forward' : values.prepack === 'on',
    memArena: values.arena === undefined ? values.bench === 'forward' || values.memory === 'none' : values.arena === 'on',
  };
  if (values.prepack !== undefined && values.prepack !== 'on' && values.prepack !== 'off') throw new Error(`--prepack must be on or off (got ${values.prepack})`);
  if (values.warmup !== undefined) o.warmup = values.warmup === '0' ? 0 : positiveInt('warmup', values.warmup);
  if (values.steps !== undefined) o.steps = positiveInt('steps', values.steps);
  if (values.profile !== undefined) o.profileDir = values.profile;
  if (values.arena !== undefined && values.arena !== 'on' && values.arena !== 'off') throw new Error(`--arena must be on or off (got ${values.arena})`);
  return o;
}

async function main(): Promise<void> {
  let o: StepOptions;
  try {
    o = parseStepArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`sam_step: ${(e as Error).message}\n`);
    process.exit(2);
  }
  const result = await runStep(o);
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`sam_step: ${errorWithStack(e)}\n`);
  process.exit(1);
});
