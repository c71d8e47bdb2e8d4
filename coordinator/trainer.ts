// The training loop (coordinator side). Each step: hand the step's samples to the workers, add up
// their gradient sums, divide by the step's sample weight, clip, take an optimizer step with the
// scheduled learning rate, and send the new weights. Evaluations, checkpoints and summary.json
// follow the config. The same loop drives in-process and gRPC workers (shared/contract/worker_endpoint.ts).

import { performance } from 'node:perf_hooks';
import { type TrainConfig, configToYaml } from '../shared/config/index.js';
import { type SegScores, meanScores } from '../shared/metrics/segmentation.js';
import { CheckpointStore, type EvalRecord, type TrainerState, stepName } from './checkpoint_store.js';
import { EpochLedger, epochOrder } from './epoch_plan.js';
import type { ModelSetup } from '../shared/contract/model_setup.js';
import { Adam } from './optimizer/adam.js';
import { clipGradNorm } from './optimizer/grad_clip.js';
import { learningRate } from './optimizer/schedule.js';
import { type Reduced, reduceResultsSliced } from './reduce.js';
import { lossScalerFor } from './loss_scaling.js';
import type { DynamicLossScaler } from './optimizer/loss_scaler.js';
import { foldByGroup, inGroupOrder } from './group_fold.js';
import { ThroughputTable, planShares } from './share_plan.js';
import { type CopyOutcome, runShareRound } from './share_round.js';
import { type StepDeadlinePolicy, shareDeadlineMs } from './step_deadline.js';
import { PAST_LOSSES, type RunEvents, type RunInfo, type WorkerStepTiming } from './run_events.js';
import { variantLabel } from '../shared/sam/config.js';
import type { RunDir } from './run_dir.js';
import { versionHash } from '../shared/tensor/weights_hash.js';
import { type EvalResult, type SampleTask, type StepResult, UndeliverableTaskError, type WorkerEndpoint } from '../shared/contract/worker_endpoint.js';
import { StoppedWhileWaiting, type WorkerPool, countWorkers } from './worker_pool.js';
import { errorMessage } from '../shared/errors/error_message.js';

export type RunStatus = 'running' | 'completed' | 'stopped' | 'failed';

export interface TrainerOptions {
  config: TrainConfig;
  model: ModelSetup;
  run: RunDir;
  runId: string;
  /** The run's workers; they may join and leave during the run. */
  pool: WorkerPool;
  trainIds: readonly string[];
  testIds: readonly string[];
  /** Continue from the run directory's latest checkpoint. */
  resume?: boolean;
  /** Progress lines (a terminal, a log). */
  progress?: (line: string) => void;
  /** Aborting stops after the current step, with a checkpoint. */
  signal?: AbortSignal;
  /** Stop (as if signalled) after this many steps in this process: tests of stop/resume. */
  maxSteps?: number;
  /** Observers (dashboard, metrics) see the run through these events. */
  events?: RunEvents;
  /** Deadlines of training shares (step_deadline.ts); none when absent (in-process workers). */
  stepDeadline?: StepDeadlinePolicy;
}

export interface Summary {
  run_id: string;
  status: RunStatus;
  error?: string;
  steps: number;
  epochs_completed: number;
  final_loss: number | null;
  eval_before: SegScores | null;
  eval_after: SegScores | null;
  best: EvalRecord | null;
  evals: EvalRecord[];
  wall_s: number;
  skipped_steps: number;
  /** Workers evicted during the run (failures, deadlines, refused results). */
  evictions: number;
  epochs: TrainerState['accounts'];
  checkpoints: { latest: string | null; best: string | null; final: string | null };
  losses: number[];
  model: { checkpoint: string | null; variant: ModelSetup['sam']; lora: ModelSetup['spec']; train_decoder: boolean };
}

/** train.max_skipped_steps steps in a row were skipped: the run stops instead of spinning. */
export class TooManySkippedSteps extends Error {
  override readonly name = 'TooManySkippedSteps';
}

export class Trainer {
  private readonly store: CheckpointStore;
  private readonly adam: Adam;
  private params: Map<string, Float32Array>;
  private state: TrainerState;
  private version = 0;
  private status: RunStatus = 'running';
  private checkpoints: Summary['checkpoints'] = { latest: null, best: null, final: null };
  private startedAt = performance.now();
  private wallBefore = 0;
  private lastSummary = 0;
  private accumulated?: Map<string, Float32Array>;
  private error?: string;
  /** Steps skipped since the last applied one (not saved: a resumed run counts afresh). */
  private skippedInARow = 0;
  private lastSkip = '';
  /** fp16 runs: the dynamic loss scale every step's graphs run with. */
  private scaler?: DynamicLossScaler;
  /** Time spent waiting for workers (fewer live than min_workers): in this step, and since the loop began. */
  private stepWaitingMs = 0;
  private loopWaitingMs = 0;

  constructor(private readonly o: TrainerOptions) {
    this.store = new CheckpointStore(o.run.checkpoints);
    const opt = o.config.optimizer;
    this.adam = new Adam({ lr: opt.lr, betas: opt.betas, eps: opt.eps, weightDecay: opt.weightDecay, decoupled: opt.name === 'adamw' });
    this.params = new Map([...o.model.initial].map(([k, v]) => [k, Float32Array.from(v)]));
    this.scaler = lossScalerFor(o.config);
    this.state = {
      step: 0,
      epoch: 0,
      epochPosition: 0,
      epochTrained: [],
      accounts: [],
      losses: [],
      evalBefore: null,
      evals: [],
      best: null,
      staleEvals: 0,
      skippedSteps: 0,
      wallSeconds: 0,
    };
  }

  private get cfg(): TrainConfig {
    return this.o.config;
  }

  private stepsPerEpoch(): number {
    return Math.ceil(this.o.trainIds.length / this.cfg.train.batchSize);
  }

  /** A line for the progress output, train.log and the run's log events. */
  private say(line: string, level: 'info' | 'warn' | 'error' = 'info'): void {
    this.narrate(line);
    this.o.events?.emit({ kind: 'log', level, text: line });
  }

  /** A line that restates a typed event (step, eval, eviction): progress output and train.log only. */
  private narrate(line: string): void {
    this.o.progress?.(line);
    this.o.run.log(line);
  }

  /** Each worker's samples per second, for the size of its share. */
  private readonly throughput = new ThroughputTable();

  /**
   * Each worker's samples per second of wall time (answer included), for copies and deadlines. A
   * worker's first answer (its session warm-up) is not counted: it would make the worker look slow,
   * and its shares worth copying.
   */
  private readonly pace = new ThroughputTable({ skipFirst: true });

  /** Answers of abandoned copies (their share was answered first by the other copy): not used. */
  ignoredAnswers = 0;

  /** The reduced gradients' arrays, reused from step to step (each step's are consumed before the next). */
  private reduceBuffers?: Map<string, Float32Array>;

  /** A new weights version (after an optimizer step or a restore); workers get it before their next task. */
  private newVersion(): void {
    this.version++;
  }

  private currentHash(): string {
    return versionHash(this.params, this.version);
  }

  /**
   * Runs `task` for `items` spread over the live workers; a worker whose call fails (or whose
   * result is refused by `check`) is evicted and its items go round again, so every item is done
   * exactly once while at least min_workers remain. With `straggler` (training steps), a worker
   * left idle gets a copy of a late share (the first valid answer counts) and each share has a
   * deadline from the worker's observed pace.
   */
  private async distribute<R>(
    items: readonly string[],
    task: (w: WorkerEndpoint, part: SampleTask[]) => Promise<R>,
    check: (r: R) => string | undefined = () => undefined,
    straggler = false,
  ): Promise<R[]> {
    const done: R[] = [];
    let pending = [...items];
    while (pending.length) {
      // Waiting for workers is kept out of the step's time, and so out of every rate and the ETA.
      const waitFrom = performance.now();
      await this.o.pool.ready(this.o.signal);
      const waited = performance.now() - waitFrom;
      this.stepWaitingMs += waited;
      this.loopWaitingMs += waited;
      await this.o.pool.sync(this.version, this.params);
      // Only workers holding this version get work; one that joined during the sync is synced on
      // the next round. Fewer than min_workers (a failed sync, a join): wait and sync again.
      const current = inGroupOrder(this.o.pool.current(this.version));
      if (countWorkers(current) < this.o.pool.minWorkers) continue;
      // A worker still computing an abandoned copy gets nothing new until it answers, misses its
      // deadline or is evicted; min_workers counts the workers that can take a share (an
      // aggregator's free ones; one with none left gets no share).
      const workers = current.filter((w) => !this.busy.has(w.id) && (w.workers ?? 1) > 0);
      if (countWorkers(workers) < this.o.pool.minWorkers) {
        await Promise.race(current.flatMap((w) => this.busy.get(w.id) ?? []));
        continue;
      }
      // Shares follow each worker's measured throughput (equal until measured).
      const counts = planShares(pending.length, this.throughput.weights(workers.map((w) => w.id)), workers.map((w) => w.workers ?? 1));
      let from = 0;
      const assigned = workers.map((w, i) => ({ worker: w, items: pending.slice(from, (from += counts[i]!)) }));
      const parts = assigned.filter((p) => p.items.length > 0);
      const round = await runShareRound<R>({
        parts,
        spare: assigned.filter((p) => p.items.length === 0).map((p) => p.worker),
        task: (w, ids) => task(w, ids.map((id) => ({ id }))),
        check,
        ...(straggler
          ? {
              expectedSeconds: (id: string, n: number) => this.pace.expectedSeconds(id, n),
              onAnswer: (id: string, n: number, seconds: number) => this.pace.record(id, n, seconds),
              onCopy: (fromId: string, to: string, n: number) => this.say(`step ${this.state.step}: worker ${fromId} is late with ${n} sample(s); worker ${to} computes them too, the first answer counts`),
              ...(this.o.stepDeadline ? { deadlineMs: (id: string, n: number) => shareDeadlineMs(this.o.stepDeadline!, this.pace.expectedSeconds(id, n)) } : {}),
            }
          : {}),
      });
      for (const a of round.abandoned) this.watchAbandoned(a.worker, a.outcome);
      // Not a worker's failure: evicting workers one after another for it would never end.
      for (const f of round.failures) if (f.error instanceof UndeliverableTaskError) throw f.error;
      for (const f of round.failures) {
        this.o.pool.evict(f.worker.id, f.reason);
        this.narrate(`worker ${f.worker.id} evicted: ${f.reason}`);
      }
      pending = [];
      round.won.forEach((w, i) => {
        if (w) {
          done.push(w.result);
          if (w.copy) this.narrate(`step ${this.state.step}: worker ${w.worker.id}'s copy of worker ${parts[i]!.worker.id}'s share answered first; the other answer is ignored`);
        } else {
          this.narrate(`${parts[i]!.items.length} sample(s) go to the other workers`);
          pending.push(...parts[i]!.items);
        }
      });
    }
    return done;
  }

  /** Workers computing an abandoned copy, until it settles: a failure (a missed deadline) evicts the worker. */
  private readonly busy = new Map<string, Promise<void>>();

  private watchAbandoned<R>(w: WorkerEndpoint, outcome: Promise<CopyOutcome<R>>): void {
    this.busy.set(
      w.id,
      outcome.then((out) => {
        this.busy.delete(w.id);
        if (out.ok) this.ignoredAnswers++;
        // (A worker already evicted, e.g. for a failed weights sync, is not evicted twice.)
        if (!out.ok && !(out.error instanceof UndeliverableTaskError) && this.o.pool.live().some((x) => x.id === w.id)) {
          const reason = errorMessage(out.error);
          this.o.pool.evict(w.id, reason);
          this.narrate(`worker ${w.id} evicted: ${reason}`);
        }
      }),
    );
  }

  private async restore(): Promise<void> {
    const name = await this.store.latest();
    if (!name) throw new Error(`--resume: no checkpoint in ${this.store.dir}`);
    const c = await this.store.load(name);
    for (const [k, v] of c.params) {
      if (!this.params.has(k)) throw new Error(`--resume: checkpoint ${name} has tensor ${k} that this run does not train`);
      this.params.set(k, v);
    }
    for (const k of this.params.keys()) if (!c.params.has(k)) throw new Error(`--resume: checkpoint ${name} lacks trainable tensor ${k}`);
    // A checkpoint written before non-finite updates were refused may hold Inf moments: resuming would stay frozen.
    for (const [what, tensors] of [['weights', c.params], ["Adam's first moment", c.optimizer.m], ["Adam's second moment", c.optimizer.v]] as const) {
      for (const [k, v] of tensors) if (!v.every(Number.isFinite)) throw new Error(`--resume: checkpoint ${name} has non-finite values in ${what} of ${k}; resume from an earlier checkpoint`);
    }
    this.adam.state = c.optimizer;
    this.scaler = lossScalerFor(this.cfg, c.state.lossScaler, `--resume: checkpoint ${name}/state.json`);
    if (!this.scaler) delete c.state.lossScaler;
    this.state = c.state;
    this.wallBefore = c.state.wallSeconds;
    this.checkpoints.latest = `${this.store.dir}/${name}`;
    this.newVersion();
    this.say(`resumed from ${name}: step ${c.state.step}, epoch ${c.state.epoch + 1}, ${c.state.epochPosition} samples into it`);
  }

  private async evaluate(): Promise<SegScores | null> {
    const ids = this.o.testIds;
    if (ids.length === 0) return null;
    const results: EvalResult[] = await this.distribute(ids, (w, samples) => w.evaluate({ weightsVersion: this.version, samples }));
    const scores = results.flatMap((r) => r.scores);
    for (const f of results.flatMap((r) => r.failed)) this.say(`eval: skipped ${f.id}: ${f.reason}`);
    return meanScores(scores);
  }

  private async checkpoint(name: string, latest = true): Promise<string> {
    this.state.wallSeconds = this.wallBefore + (performance.now() - this.startedAt) / 1000;
    if (this.scaler) this.state.lossScaler = this.scaler.state;
    const dir = await this.store.save(
      name,
      { state: this.state, params: this.params, shapes: this.o.model.shapes, optimizer: this.adam.state, spec: this.o.model.spec, configYaml: configToYaml(this.cfg) },
      { latest },
    );
    if (latest) {
      this.checkpoints.latest = dir;
      this.store.prune(this.cfg.checkpoint.keep);
    }
    this.o.events?.emit({ kind: 'checkpoint', step: this.state.step, dir, name });
    return dir;
  }

  summary(): Summary {
    const s = this.state;
    const m = this.o.model;
    return {
      run_id: this.o.runId,
      status: this.status,
      ...(this.error ? { error: this.error } : {}),
      steps: s.step,
      epochs_completed: s.accounts.length,
      final_loss: s.losses.length ? s.losses[s.losses.length - 1]! : null,
      eval_before: s.evalBefore,
      eval_after: this.status === 'completed' && s.evals.length ? { dice: s.evals[s.evals.length - 1]!.dice, iou: s.evals[s.evals.length - 1]!.iou } : null,
      best: s.best,
      evals: s.evals,
      wall_s: this.wallBefore + (performance.now() - this.startedAt) / 1000,
      skipped_steps: s.skippedSteps,
      evictions: this.o.pool.evictions,
      epochs: s.accounts,
      checkpoints: this.checkpoints,
      losses: s.losses,
      model: { checkpoint: m.checkpoint, variant: m.sam, lora: m.spec, train_decoder: m.trainDecoder },
    };
  }

  private writeSummary(force = false): void {
    const now = performance.now();
    if (!force && now - this.lastSummary < 2000) return;
    this.lastSummary = now;
    this.o.run.writeSummary(this.summary());
  }

  /**
   * The epoch, counted from 1, of the last step trained (0: none yet). What people read (progress,
   * events, summary.json, logs) counts epochs from 1; state.epoch is the 0-based index that seeds
   * each epoch's order and is kept as it is in checkpoints.
   */
  private epochOfLastStep(): number {
    return this.state.accounts.length + (this.state.epochPosition > 0 ? 1 : 0);
  }

  private async recordEval(): Promise<boolean> {
    const scores = await this.evaluate();
    if (!scores) return false;
    const rec: EvalRecord = { step: this.state.step, epoch: this.epochOfLastStep(), ...scores };
    this.state.evals.push(rec);
    const minDelta = this.cfg.eval.earlyStopping.minDelta;
    const improved = !this.state.best || rec.dice > this.state.best.dice + minDelta;
    if (improved) {
      this.state.best = rec;
      this.state.staleEvals = 0;
      this.checkpoints.best = await this.checkpoint('best', false);
    } else {
      this.state.staleEvals++;
    }
    this.o.events?.emit({ kind: 'eval', step: rec.step, epoch: rec.epoch, dice: rec.dice, iou: rec.iou, best: improved, phase: 'during' });
    this.narrate(`eval at step ${rec.step}: dice ${rec.dice.toFixed(4)} iou ${rec.iou.toFixed(4)}${improved ? ' (best)' : ''}`);
    this.writeSummary(true);
    const patience = this.cfg.eval.earlyStopping.patience;
    return patience !== null && this.state.staleEvals >= patience;
  }

  /** Runs to the end (or a stop); returns the final summary (also written to summary.json). */
  async run(): Promise<Summary> {
    const cfg = this.cfg;
    this.o.run.writeConfig(configToYaml(cfg));
    try {
      if (this.o.resume) await this.restore();
      this.o.events?.emit({ kind: 'run_started', info: this.runInfo(), pastLosses: this.state.losses.slice(-PAST_LOSSES) });
      if (this.scaler) this.say(`mixed precision: fp16 training graphs, fp32 master weights and Adam; dynamic loss scale ${this.scaler.scale}`);
      if (!this.o.resume) {
        this.state.evalBefore = await this.evaluate();
        const b = this.state.evalBefore;
        if (b) {
          this.o.events?.emit({ kind: 'eval', step: 0, epoch: 0, dice: b.dice, iou: b.iou, best: false, phase: 'before' });
          this.narrate(`eval before training: dice ${b.dice.toFixed(4)} iou ${b.iou.toFixed(4)}`);
        }
      }
      this.writeSummary(true);
      const stopped = await this.loop();
      this.status = stopped === 'signal' ? 'stopped' : 'completed';
      if (this.status === 'completed') {
        const after = await this.evaluate();
        if (after) {
          const last = this.state.evals[this.state.evals.length - 1];
          if (!last || last.step !== this.state.step) this.state.evals.push({ step: this.state.step, epoch: this.epochOfLastStep(), ...after });
          this.o.events?.emit({ kind: 'eval', step: this.state.step, epoch: this.epochOfLastStep(), dice: after.dice, iou: after.iou, best: false, phase: 'after' });
          this.narrate(`eval after training: dice ${after.dice.toFixed(4)} iou ${after.iou.toFixed(4)}`);
        }
        this.checkpoints.final = await this.checkpoint('final', false);
      }
      await this.checkpoint(stepName(this.state.step));
    } catch (err) {
      if (err instanceof StoppedWhileWaiting) {
        // Stopped (Ctrl-C) while no workers were there: keep what was trained.
        this.status = 'stopped';
        this.say(err.message, 'warn');
        if (this.state.step > 0 && this.state.step % this.cfg.train.gradAccumulation === 0) await this.checkpoint(stepName(this.state.step));
        this.writeSummary(true);
        this.o.events?.emit({ kind: 'run_ended', status: 'stopped' });
        return this.summary();
      }
      this.status = 'failed';
      this.error = errorMessage(err);
      if (err instanceof TooManySkippedSteps) {
        // Nothing changed the weights since the last applied step: keep them (and the ledger) for a resume.
        this.say(this.error, 'error');
        if (this.state.step % this.cfg.train.gradAccumulation === 0) {
          await this.checkpoint(stepName(this.state.step)).catch((e: unknown) => this.say(`could not write the last checkpoint: ${errorMessage(e)}`, 'error'));
        }
      }
      this.writeSummary(true);
      this.o.events?.emit({ kind: 'run_ended', status: 'failed', error: this.error });
      throw err;
    }
    this.writeSummary(true);
    this.o.events?.emit({ kind: 'run_ended', status: this.status === 'stopped' ? 'stopped' : 'completed' });
    return this.summary();
  }

  private async loop(): Promise<'done' | 'signal' | 'early'> {
    const cfg = this.cfg;
    const t = cfg.train;
    const perEpoch = this.stepsPerEpoch();
    const total = t.epochs * perEpoch;
    const stepsAtStart = this.state.step;
    const t0 = performance.now();
    this.loopWaitingMs = 0;
    for (; this.state.epoch < t.epochs; this.state.epoch++) {
      const order = epochOrder(this.o.trainIds, t.seed, this.state.epoch);
      const ledger = new EpochLedger(this.state.epoch, order);
      ledger.restore(this.state.epochTrained);
      while (this.state.epochPosition < order.length) {
        if (this.o.signal?.aborted || (this.o.maxSteps !== undefined && this.state.step - stepsAtStart >= this.o.maxSteps)) {
          if (this.state.step % t.gradAccumulation === 0) return 'signal';
        }
        const ids = order.slice(this.state.epochPosition, this.state.epochPosition + t.batchSize);
        await this.trainStep(ids, ledger);
        this.state.epochPosition += ids.length;
        this.state.epochTrained = ledger.trainedIds();
        if (this.skippedInARow >= t.maxSkippedSteps) {
          throw new TooManySkippedSteps(`${this.skippedInARow} steps in a row were skipped (the last: ${this.lastSkip}); stopping (train.max_skipped_steps is ${t.maxSkippedSteps})`);
        }
        const done = this.state.step - stepsAtStart;
        const elapsed = (performance.now() - t0 - this.loopWaitingMs) / 1000;
        const eta = (elapsed / done) * (total - this.state.step);
        const loss = this.state.losses[this.state.losses.length - 1]!;
        this.narrate(
          `epoch ${this.state.epoch + 1}/${t.epochs} step ${this.state.step}/${total} loss ${loss.toFixed(4)} lr ${this.lrOfStep(this.state.step - 1).toExponential(2)} ` +
            `${((done * t.batchSize) / elapsed).toFixed(2)} img/s eta ${formatSeconds(eta)}${this.scaler ? ` loss scale ${this.scaler.scale}` : ''}`,
        );
        if (cfg.eval.intervalSteps && this.state.step % cfg.eval.intervalSteps === 0 && (await this.recordEval())) return 'early';
        if (cfg.checkpoint.intervalSteps && this.state.step % cfg.checkpoint.intervalSteps === 0 && this.state.step % t.gradAccumulation === 0) {
          await this.checkpoint(stepName(this.state.step));
        }
        this.writeSummary();
      }
      this.state.accounts.push(ledger.account());
      this.o.events?.emit({ kind: 'epoch_done', epoch: this.state.epoch + 1 });
      this.state.epochPosition = 0;
      this.state.epochTrained = [];
      const lastEpoch = this.state.epoch + 1 === t.epochs;
      if (!lastEpoch && cfg.eval.intervalEpochs && (this.state.epoch + 1) % cfg.eval.intervalEpochs === 0) {
        if (await this.recordEval()) {
          this.state.epoch++;
          return 'early';
        }
      }
      if (!lastEpoch && this.state.step % t.gradAccumulation === 0) {
        // Epoch boundary: a crash loses at most one epoch even without checkpoint.interval_steps.
        const next = this.state.epoch;
        this.state.epoch++;
        await this.checkpoint(stepName(this.state.step));
        this.state.epoch = next;
      }
    }
    return 'done';
  }

  private runInfo(): RunInfo {
    const c = this.cfg;
    const perEpoch = this.stepsPerEpoch();
    return {
      runId: this.o.runId,
      variant: variantLabel(this.o.model.sam),
      checkpoint: this.o.model.checkpoint,
      rank: this.o.model.spec.rank,
      device: c.runtime.device,
      epochs: c.train.epochs,
      stepsPerEpoch: perEpoch,
      totalSteps: c.train.epochs * perEpoch,
      batchSize: c.train.batchSize,
      startStep: this.state.step,
      lr: this.lrOfStep(this.state.step),
      runDir: this.o.run.dir,
    };
  }

  /**
   * The learning rate of (0-based) step `step`: the schedule runs over optimizer steps, and step
   * `step` feeds optimizer step floor(step / grad_accumulation) whether or not some steps were
   * skipped, so events, progress lines and the update itself all read this one value.
   */
  private lrOfStep(step: number): number {
    const c = this.cfg;
    const k = c.train.gradAccumulation;
    const total = Math.ceil((c.train.epochs * this.stepsPerEpoch()) / k);
    return learningRate({ baseLr: c.optimizer.lr, warmupSteps: c.schedule.warmupSteps, totalSteps: total, cosine: c.schedule.cosine, minLr: c.schedule.minLr }, Math.floor(step / k));
  }

  private async trainStep(ids: string[], ledger: EpochLedger): Promise<void> {
    const cfg = this.cfg;
    const step = this.state.step;
    const expected = this.currentHash();
    const t0 = performance.now();
    const lossScale = this.scaler?.scale;
    // Timings of the answers used (an abandoned copy's answer is not one of them).
    const timings = new Map<StepResult, WorkerStepTiming>();
    this.stepWaitingMs = 0;
    // Each result's host group: one group's gradients are added first (group_fold.ts).
    const groupOf = new Map<StepResult, string>();
    const results: StepResult[] = await this.distribute(
      ids,
      async (w, samples) => {
        const r = await w.trainStep({ epoch: this.state.epoch, step, weightsVersion: this.version, samples, ...(lossScale !== undefined ? { lossScale } : {}) });
        this.throughput.record(w.id, r.samples.length, r.computeSeconds);
        groupOf.set(r, w.placement?.group ?? w.id);
        timings.set(r, { workerId: w.id, samples: r.samples.length, computeSeconds: r.computeSeconds, answeredAfterSeconds: (performance.now() - t0 - this.stepWaitingMs) / 1000, loss: r.weightSum > 0 ? r.lossSum / r.weightSum : Number.NaN, ...(r.peakRssBytes !== undefined ? { peakRssBytes: r.peakRssBytes } : {}) });
        return r;
      },
      (r) => (r.step !== step ? `answered step ${r.step} for step ${step}` : r.weightsHash !== undefined && r.weightsHash !== expected ? 'holds different weights (hash mismatch)' : undefined),
      true,
    );
    const answered = results.map((r) => timings.get(r)!);
    for (const r of results) {
      for (const s of r.samples) ledger.record(s.id);
      for (const f of r.failed) {
        ledger.recordFailed(f.id);
        this.say(`step ${step}: skipped sample ${f.id}: ${f.reason}`);
      }
    }
    const tReduce = performance.now();
    const reduced = await reduceResultsSliced(foldByGroup(results, (r) => groupOf.get(r) ?? ''), this.o.model.shapes, this.reduceBuffers);
    const gradientSumSeconds = (performance.now() - tReduce) / 1000;
    this.reduceBuffers = reduced.grads;
    this.state.step++;
    this.state.losses.push(reduced.loss);
    const lrNow = this.lrOfStep(step);
    const emitStep = (skipped: boolean): void => {
      const now = performance.now();
      const times = answered.map((a) => a.answeredAfterSeconds);
      this.o.events?.emit({
        kind: 'step',
        step: this.state.step,
        epoch: this.state.epoch + 1,
        images: results.reduce((a, r) => a + r.samples.length, 0),
        loss: reduced.loss,
        lr: lrNow,
        skipped,
        ...(this.scaler ? { lossScale: this.scaler.scale, overflow } : {}),
        timing: {
          stepSeconds: (now - t0 - this.stepWaitingMs) / 1000,
          waitingSeconds: this.stepWaitingMs / 1000,
          reduceSeconds: (now - tReduce) / 1000,
          gradientSumSeconds,
          waitForSlowestSeconds: times.length ? Math.max(...times) - Math.min(...times) : 0,
          workers: answered,
        },
      });
    };
    const atFloor = this.scaler?.atMinScale ?? false;
    const overflow = this.unscale(reduced);
    const skipped = overflow || reduced.weight === 0 || !Number.isFinite(reduced.loss) || !reduced.finite;
    // An fp16 overflow is the scale's doing, not the run's: it counts towards max_skipped_steps only at the scale's floor.
    if (overflow) this.skipStep(step, `fp16 overflow at loss scale ${lossScale}; the scale is now ${this.scaler!.scale}`, atFloor);
    else if (skipped) this.skipStep(step, reduced.weight === 0 ? 'no trainable sample' : 'non-finite loss or gradient');
    // A skipped step adds nothing to its window; the window's last step still takes the optimizer
    // step with what the others added (none at all: no update), so no window spills into the next.
    const k = cfg.train.gradAccumulation;
    if (k > 1 && !skipped) {
      this.accumulated ??= new Map([...reduced.grads].map(([key, g]) => [key, new Float32Array(g.length)]));
      for (const [key, g] of reduced.grads) {
        const acc = this.accumulated.get(key)!;
        for (let i = 0; i < g.length; i++) acc[i] = acc[i]! + g[i]! / k;
      }
    }
    const grads = k > 1 ? this.accumulated : skipped ? undefined : reduced.grads;
    if (this.state.step % k !== 0 || !grads) {
      emitStep(skipped);
      return;
    }
    if (cfg.gradClip.maxNorm !== null) clipGradNorm(grads, cfg.gradClip.maxNorm);
    const outcome = this.adam.step(this.params, grads, lrNow);
    this.accumulated = undefined;
    if (!outcome.applied) {
      // The whole update is refused (this step counted once, even if it was skipped already).
      if (!skipped) this.skipStep(step, `the update of ${outcome.tensor} would be non-finite (a gradient too large for float32; see grad_clip.max_norm)`);
      emitStep(true);
      return;
    }
    this.skippedInARow = 0;
    this.newVersion();
    emitStep(skipped);
  }

  /**
   * fp16 runs: divides the reduced gradients (of loss * scale) by the step's scale in place and
   * updates the scale; true when the step overflowed (a worker reported it, or a gradient or the
   * loss is non-finite): it is skipped for everyone and the scale halved. fp32: false, untouched.
   */
  private unscale(reduced: Reduced): boolean {
    if (!this.scaler || reduced.weight === 0) return false;
    if (reduced.overflow || !Number.isFinite(reduced.loss)) {
      this.scaler.overflowed();
      return true;
    }
    return !this.scaler.unscaleInPlace(reduced.grads);
  }

  /** Counts a skipped step; too many in a row stop the run (the weights are those of the last good step). */
  private skipStep(step: number, why: string, inARow = true): void {
    this.state.skippedSteps++;
    if (inARow) this.skippedInARow++;
    this.say(`step ${step}: skipped (${why})`, 'warn');
    this.lastSkip = why;
  }
}

export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m${String(Math.round(s % 60)).padStart(2, '0')}s` : `${Math.round(s)}s`;
}
