// Benchmark driver (npm run bench): for every fixture directory (and ViT-B with generated weights
// under --full; ViT-H with --only vit_h), every bench (train_step, forward) and every batch size, runs bench/sam_step.js in
// its own process so that each peak RSS belongs to one measurement, and prints the child's result
// as one JSON line on stdout. Progress, timings of graph build / session creation and the summary
// table go to stderr. Children run one at a time.
//
// Training steps run once per memory mode (shared/sam/memory.ts; --memory MODE for one), forward
// passes once.
//
// node dist/bench/run.js [--full] [--force] [--only SUBSTR] [--bench train_step|forward] [--batch 1,2]
//   [--threads 2] [--steps N] [--warmup N] [--profile DIR] [--arena on|off] [--fixtures DIR]
//   [--memory none|global|all] [--attention-chunk-mb N] [--prepack on|off] [--micro-batch M]
//
// --micro-batch M (train_step): images per session run, as train.micro_batch (default 1): a step of
// --batch B is ceil(B / M) runs of the batch-M graph, gradients summed; M = B is one run of the whole
// batch's graph.

import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { freemem } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { FIXTURES, fixtureDirs } from '../tests/helpers/fixtures.js';
import { FULL_GENERATED, GENERATED } from './inputs.js';
import { MEMORY_MODES, type MemoryMode, isMemoryMode } from '../shared/sam/memory.js';
import { BENCHES, type BenchKind, type BenchResult, parseResult } from './result.js';
import { errorWithStack } from '../shared/errors/error_message.js';
import { DEFAULT_MICRO_BATCH } from '../shared/config/defaults.js';
import { withTrainingMallocEnv } from '../shared/graph/malloc_env.js';

const STEP_SCRIPT = fileURLToPath(new URL('./sam_step.js', import.meta.url));

interface RunOptions {
  full: boolean;
  /** Run even when a measurement is projected not to fit in free memory. */
  force: boolean;
  only?: string;
  benches: BenchKind[];
  batches: number[];
  threads: number;
  steps?: number;
  warmup?: number;
  profile?: string;
  /** 'on' | 'off': ORT's CPU memory arena (default: as the worker's training sessions, off for memory modes global and all, else on). */
  arena?: string;
  fixtures: string;
  /** Memory modes of the training-step runs. */
  memory: MemoryMode[];
  attentionChunkMb?: number;
  /** 'on' | 'off': ORT's weight prepacking (default: off for train_step, on for forward). */
  prepack?: string;
  /** Images per session run of a training step (default: the worker's, train.micro_batch's default). */
  microBatch: number;
}

function usage(msg: string): never {
  process.stderr.write(
    `bench: ${msg}\nusage: node dist/bench/run.js [--full] [--force] [--only SUBSTR] [--bench train_step|forward] [--batch 1,2] [--threads N] [--steps N] [--warmup N] [--profile DIR] [--arena on|off] [--fixtures DIR] [--memory none|global|all] [--attention-chunk-mb N] [--prepack on|off] [--micro-batch M]\n`,
  );
  process.exit(2);
}

function positiveInts(name: string, v: string): number[] {
  const xs = v.split(',').map((s) => Number(s.trim()));
  if (!xs.length || xs.some((x) => !Number.isInteger(x) || x < 1)) usage(`--${name} wants positive integers, comma-separated (got ${v})`);
  return xs;
}

function parse(argv: string[]): RunOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        full: { type: 'boolean', default: false },
        force: { type: 'boolean', default: false },
        only: { type: 'string' },
        bench: { type: 'string' },
        batch: { type: 'string', default: '1,2' },
        threads: { type: 'string', default: '2' },
        steps: { type: 'string' },
        warmup: { type: 'string' },
        profile: { type: 'string' },
        arena: { type: 'string' },
        fixtures: { type: 'string', default: FIXTURES },
        memory: { type: 'string' },
        'attention-chunk-mb': { type: 'string' },
        prepack: { type: 'string' },
        'micro-batch': { type: 'string' },
      },
    }));
  } catch (e) {
    usage((e as Error).message);
  }
  const benches = values.bench === undefined ? [...BENCHES] : values.bench.split(',').map((b) => b.trim());
  for (const b of benches) if (!(BENCHES as readonly string[]).includes(b)) usage(`--bench must be one of ${BENCHES.join(', ')} (got ${b})`);
  const o: RunOptions = {
    full: values.full!,
    force: values.force!,
    benches: benches as BenchKind[],
    batches: [...new Set(positiveInts('batch', values.batch!))].sort((a, b) => a - b),
    threads: positiveInts('threads', values.threads!)[0]!,
    fixtures: path.resolve(values.fixtures!),
    memory: [...MEMORY_MODES],
    microBatch: DEFAULT_MICRO_BATCH,
  };
  if (values.memory !== undefined) {
    if (!isMemoryMode(values.memory)) usage(`--memory must be one of ${MEMORY_MODES.join(', ')} (got ${values.memory})`);
    o.memory = [values.memory];
  }
  if (values['attention-chunk-mb'] !== undefined) o.attentionChunkMb = positiveInts('attention-chunk-mb', values['attention-chunk-mb'])[0]!;
  if (values['micro-batch'] !== undefined) o.microBatch = positiveInts('micro-batch', values['micro-batch'])[0]!;
  if (values.only !== undefined) o.only = values.only;
  if (values.steps !== undefined) o.steps = positiveInts('steps', values.steps)[0]!;
  if (values.warmup !== undefined) o.warmup = values.warmup === '0' ? 0 : positiveInts('warmup', values.warmup)[0]!;
  if (values.profile !== undefined) o.profile = path.resolve(values.profile);
  if (values.arena !== undefined) {
    if (values.arena !== 'on' && values.arena !== 'off') usage(`--arena must be on or off (got ${values.arena})`);
    o.arena = values.arena;
  }
  if (values.prepack !== undefined) {
    if (values.prepack !== 'on' && values.prepack !== 'off') usage(`--prepack must be on or off (got ${values.prepack})`);
    o.prepack = values.prepack;
  }
  return o;
}

/** Fixture directory names (discovered, seed-lora excluded; smallest checkpoint first), then the generated variants under --full. */
function variants(o: RunOptions): string[] {
  const size = (d: string): number => statSync(path.join(d, 'sam.pth')).size;
  const names = fixtureDirs(o.fixtures)
    .sort((a, b) => size(a) - size(b) || a.localeCompare(b))
    .map((d) => path.basename(d));
  if (o.full) names.push(...FULL_GENERATED);
  const picked = o.only === undefined ? names : names.filter((n) => n.includes(o.only!));
  // A generated variant outside --full (ViT-H) runs when --only names it exactly.
  if (o.only !== undefined && o.only in GENERATED && !picked.includes(o.only)) picked.push(o.only);
  return picked;
}

/** Runs one measurement in a child process; resolves with its result line, or rejects. */
function runChild(args: string[]): Promise<BenchResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', STEP_SCRIPT, ...args], { stdio: ['ignore', 'pipe', 'inherit'], env: withTrainingMallocEnv(process.env) });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => (out += d));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code !== 0) {
        reject(new Error(`sam_step ${args.join(' ')} ${signal ? `was killed by ${signal}` : `exited with ${code}`}`));
        return;
      }
      const line = out.trim().split('\n').at(-1) ?? '';
      try {
        resolve(parseResult(line));
      } catch (e) {
        reject(e as Error);
      }
    });
  });
}

async function main(): Promise<void> {
  const o = parse(process.argv.slice(2));
  const names = variants(o);
  if (!names.length) {
    process.stderr.write(`bench: no variants to run (fixtures under ${o.fixtures}${o.only !== undefined ? `, --only ${o.only}` : ''})\n`);
    process.exit(1);
  }
  process.stderr.write(`bench: variants ${names.join(', ')}; benches ${o.benches.join(', ')}; batches ${o.batches.join(', ')}; ${o.threads} thread(s)\n`);
  const results: BenchResult[] = [];
  let failures = 0;
  let skipped = 0;
  // Memory modes change the training graph only.
  const runs = o.benches.flatMap((bench) => (bench === 'train_step' ? o.memory : (['none'] as const)).map((memory) => ({ bench, memory })));
  for (const variant of names) {
    for (const { bench, memory } of runs) {
      let smaller: BenchResult | undefined;
      for (const batch of o.batches) {
        // Memory grows about linearly with the graph's batch (the micro-batch of a training step):
        // skip what would not fit (ViT-B training at batch 2 would take the machine down) unless --force.
        const graphBatch = bench === 'train_step' ? o.microBatch : batch;
        const projected = smaller ? (smaller.peak_rss_bytes * graphBatch) / smaller.micro_batch : 0;
        if (!o.force && projected > 0.9 * freemem()) {
          skipped++;
          process.stderr.write(
            `bench: SKIPPED ${bench} ${variant} b${batch} ${memory}: projected peak RSS ${(projected / 2 ** 30).toFixed(1)} GiB ` +
              `(b${smaller!.batch} took ${(smaller!.peak_rss_bytes / 2 ** 30).toFixed(1)} GiB) exceeds 90% of the ${(freemem() / 2 ** 30).toFixed(1)} GiB free; --force runs it\n`,
          );
          continue;
        }
        const args = ['--variant', variant, '--bench', bench, '--batch', String(batch), '--threads', String(o.threads), '--fixtures', o.fixtures];
        if (o.steps !== undefined) args.push('--steps', String(o.steps));
        if (o.warmup !== undefined) args.push('--warmup', String(o.warmup));
        if (o.profile !== undefined) args.push('--profile', o.profile);
        if (o.arena !== undefined) args.push('--arena', o.arena);
        if (o.prepack !== undefined) args.push('--prepack', o.prepack);
        args.push('--memory', memory);
        if (o.attentionChunkMb !== undefined) args.push('--attention-chunk-mb', String(o.attentionChunkMb));
        if (bench === 'train_step') args.push('--micro-batch', String(o.microBatch));
        try {
          const r = await runChild(args);
          results.push(r);
          smaller ??= r;
          process.stdout.write(`${JSON.stringify(r)}\n`);
        } catch (e) {
          failures++;
          process.stderr.write(`bench: FAILED ${bench} ${variant} b${batch} ${memory}: ${(e as Error).message}\n`);
        }
      }
    }
  }
  const mib = (b: number): string => `${(b / 2 ** 20).toFixed(2)} MiB`;
  process.stderr.write('\nbench            variant          batch micro threads memory    median_s   peak RSS  copied in/out per step\n');
  for (const r of results) {
    const time = r.median_s < 1 ? `${(r.median_s * 1000).toFixed(2)} ms` : `${r.median_s.toFixed(3)} s`;
    process.stderr.write(
      `${r.bench.padEnd(16)} ${r.variant.padEnd(16)} ${String(r.batch).padStart(5)} ${String(r.micro_batch).padStart(5)} ${String(r.threads).padStart(7)} ${r.memory_mode.padEnd(6)} ${time.padStart(11)} ${(r.peak_rss_bytes / 2 ** 30).toFixed(2).padStart(6)} GiB  ${mib(r.feed_bytes_per_step)} / ${mib(r.fetch_bytes_per_step)}\n`,
    );
  }
  if (skipped) process.stderr.write(`bench: ${skipped} measurement(s) skipped for memory\n`);
  if (failures) {
    process.stderr.write(`bench: ${failures} measurement(s) failed\n`);
    process.exitCode = 1;
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench: ${errorWithStack(e)}\n`);
  process.exit(1);
});
