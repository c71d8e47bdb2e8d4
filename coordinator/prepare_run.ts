// Everything a run needs before its first step: config, model, run directory, datasets (the generated
// demo dataset when the config names none) and a scan of every sample; then its training loop over a
// pool of workers, in-process or remote.

import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { type TrainConfig, loadConfig } from '../shared/config/index.js';
import { type Dataset, openDataset } from '../shared/data/dataset.js';
import { writeDemoDataset } from '../shared/data/demo_data.js';
import { scanDataset } from '../shared/data/scan.js';
import { type ModelSetup, setupModel } from '../shared/contract/model_setup.js';
import { LATEST_POINTER, latestRunDir, noRunToResume } from './latest_run.js';
import { RunDir } from './run_dir.js';
import { type Summary, Trainer } from './trainer.js';
import type { RunEvents } from './run_events.js';
import { type NoteLevel, runNotes } from './run_notes.js';
import type { WorkerPool } from './worker_pool.js';
import type { StepDeadlinePolicy } from './step_deadline.js';

/**
 * The demo dataset of the embedded job: enough images that held-out Dice measures learning, not memory
 * (384 training images did no better than 192 in the same time), and a held-out split large enough
 * that its mean is stable (24 images read about 0.05 above 96 for the base and the LoRA alike).
 */
const DEMO_TRAIN_IMAGES = 192;
const DEMO_TEST_IMAGES = 96;

export interface LocalRunOptions {
  configPath?: string;
  overrides?: Record<string, string>;
  /** Default: <checkpoint.dir>/<run id>. */
  runDir?: string;
  /** true: continue from the run directory's latest checkpoint (which must exist); 'auto': when there is one (restartable jobs). */
  resume?: boolean | 'auto';
  progress?: (line: string) => void;
  signal?: AbortSignal;
  maxSteps?: number;
  /** In-process workers (default 1). */
  workers?: number;
  /** The run's events, for a dashboard and metrics. */
  events?: RunEvents;
}

export interface PreparedRun {
  config: TrainConfig;
  model: ModelSetup;
  run: RunDir;
  runId: string;
  train: Dataset;
  test?: Dataset;
  trainIds: string[];
  testIds: string[];
  /** Whether the run continues from a checkpoint (resume 'auto' resolved). */
  resume: boolean;
}

async function scanned(dir: string, config: TrainConfig, say: (l: string, level?: NoteLevel) => void): Promise<{ ds: Dataset; ids: string[] }> {
  const ds = await openDataset({ path: dir, format: config.data.format === 'auto' ? undefined : config.data.format, annotations: config.data.annotations ?? undefined });
  const scan = await scanDataset(ds, config.data.onBadSample);
  if (scan.skippedIds.length) {
    say(`${dir}: skipping ${scan.skippedIds.length} bad sample(s):`, 'warn');
    for (const p of scan.skipped) say(`  ${p.file}: ${p.reason}`, 'warn');
  }
  return { ds, ids: scan.samples.map((s) => s.id) };
}

/**
 * Resuming (--resume, --auto-resume) a run whose summary.json says it completed: there is nothing to
 * train, and an early-stopped run would otherwise train on. The commands report it and exit 0, so a
 * restart after the end (a reboot, a replaced pod, a resubmitted job) leaves the run as it is.
 */
export class RunCompletedError extends Error {
  override readonly name = 'RunCompletedError';
  constructor(
    readonly dir: string,
    readonly summary: Summary,
  ) {
    super(`${dir}: the run has already completed (${summary.steps} steps); nothing to train (another --run-dir starts a new run)`);
  }
}

/** The run directory's summary when it says the run completed. */
function completedSummary(dir: string): Summary | undefined {
  const s = RunDir.readSummary(dir);
  if (typeof s !== 'object' || s === null) return undefined;
  const { status, steps } = s as { status?: unknown; steps?: unknown };
  // Written by Trainer.summary(): the status and step count say enough to trust the rest.
  return status === 'completed' && typeof steps === 'number' ? (s as Summary) : undefined;
}

/**
 * What resuming this run directory meets when its summary.json says the run completed (undefined:
 * not a resume, or not completed). The commands ask before they start a dashboard or a server.
 */
export function completedRun(o: Pick<LocalRunOptions, 'runDir' | 'resume'>): RunCompletedError | undefined {
  if (!o.resume || !o.runDir) return undefined;
  const done = completedSummary(o.runDir);
  return done ? new RunCompletedError(o.runDir, done) : undefined;
}

/** Everything before the first step: fails early, naming the file at fault. */
export async function prepareRun(o: LocalRunOptions): Promise<PreparedRun> {
  const say = runNotes(o);
  if (o.resume === 'auto' && !o.runDir) throw new Error('--auto-resume needs --run-dir (the directory a restarted job finds its checkpoints in)');
  // Before the config and the model: a finished run needs neither (its files may even be gone).
  const completed = completedRun(o);
  if (completed) throw completed;
  const config = await loadConfig(o.configPath, o.overrides ?? {});
  let runDir = o.runDir;
  if (o.resume === true && runDir === undefined) {
    // --resume alone: the latest run (the commands resolve it first, to say so before any dashboard).
    runDir = latestRunDir(config.checkpoint.dir);
    if (!runDir) throw new Error(noRunToResume(config.checkpoint.dir));
    say(`--resume: continuing the latest run under ${config.checkpoint.dir}: ${runDir}`);
    const done = completedRun({ runDir, resume: true });
    if (done) throw done;
  }
  const runId = runDir ? path.basename(runDir) : RunDir.newId();
  const dir = runDir ?? path.join(config.checkpoint.dir, runId);
  const hasCheckpoint = existsSync(path.join(dir, LATEST_POINTER));
  // Checked before the directory is created: a failed --resume leaves nothing behind.
  if (o.resume === true && !hasCheckpoint) throw new Error(`--resume: ${dir} holds no checkpoint to resume from`);
  const run = new RunDir(dir);
  const resume = o.resume === true || (o.resume === 'auto' && hasCheckpoint);
  if (o.resume === 'auto') say(hasCheckpoint ? `--auto-resume: continuing from the checkpoint in ${run.checkpoints}` : `--auto-resume: no checkpoint in ${run.dir} yet, starting a new run`);
  const model = await setupModel(config);
  if (!config.model.checkpoint) {
    say(
      model.checkpoint
        ? `No SAM checkpoint configured: fine-tuning the bundled small SAM pretrained by this project (${model.checkpoint}); set model.checkpoint to sam_vit_b_01ec64.pth for the real job.`
        : 'No SAM checkpoint configured and a declared variant: training on seeded generated weights of that shape.',
    );
  }
  let trainDir = config.data.train;
  let testDir = config.data.test;
  if (!trainDir) {
    const demo = path.join(run.dir, 'demo-data');
    if (!existsSync(path.join(demo, 'train'))) {
      say(`No dataset configured: generating the demo dataset in ${demo}`);
      await writeDemoDataset(demo, { seed: config.train.seed, train: DEMO_TRAIN_IMAGES, test: DEMO_TEST_IMAGES });
    }
    trainDir = path.join(demo, 'train');
    testDir ??= path.join(demo, 'test');
  }
  const train = await scanned(trainDir, config, say);
  const test = testDir ? await scanned(testDir, config, say) : undefined;
  return { config, model, run, runId, train: train.ds, test: test?.ds, trainIds: train.ids, testIds: test?.ids ?? [], resume };
}

/** The training loop of a prepared run over a pool of workers (in-process or remote). */
export function trainerFor(p: PreparedRun, pool: WorkerPool, o: LocalRunOptions, stepDeadline?: StepDeadlinePolicy): Trainer {
  return new Trainer({
    config: p.config,
    model: p.model,
    run: p.run,
    runId: p.runId,
    pool,
    trainIds: p.trainIds,
    testIds: p.testIds,
    resume: p.resume,
    progress: o.progress,
    signal: o.signal,
    maxSteps: o.maxSteps,
    events: o.events,
    ...(stepDeadline ? { stepDeadline } : {}),
  });
}
