// An aggregator's compute: its host group. To the coordinator it is one worker carrying the union of
// its workers' shares; here the step's samples are split over the group's workers (by measured
// throughput, as the coordinator splits), their results are checked as the coordinator would check
// them (step, weights hash), and added into one partial (coordinator/group_fold.ts) that goes up as
// one result. A worker that fails is evicted from the group and its samples go to the group's
// others; with none left the step fails, the coordinator evicts the aggregator and its samples go
// back to the run's queue.

import { foldResults } from '../coordinator/group_fold.js';
import { ThroughputTable, planShares } from '../coordinator/share_plan.js';
import type { WorkerPool } from '../coordinator/worker_pool.js';
import type { SampleBytes } from '../shared/data/dataset.js';
import { type EvalResult, type EvalWork, type SampleTask, type StepResult, type StepWork, UndeliverableTaskError, type WorkerEndpoint } from '../shared/contract/worker_endpoint.js';
import { errorMessage } from '../shared/errors/error_message.js';
import { versionHash } from '../shared/tensor/weights_hash.js';
import type { SessionCompute } from '../worker/session_compute.js';

export interface GroupComputeOptions {
  /** The group's name, for messages. */
  group: string;
  /** The group's workers (the aggregator's own coordinator server fills it). */
  pool: WorkerPool;
  /** Filled with the trainable tensors' shapes from the first weights (the group's server checks gradients against it). */
  trainable: Map<string, readonly number[]>;
  log?: (line: string) => void;
}

export class GroupCompute implements SessionCompute {
  private version = -1;
  private params: ReadonlyMap<string, Float32Array> = new Map();
  private hash = '';
  private readonly throughput = new ThroughputTable();
  /** The last step's sums, reused for the next. */
  private sums?: Map<string, Float32Array>;
  /** The files of the samples of the assignment in progress, by id (what the group's server ships). */
  private readonly files = new Map<string, SampleBytes>();

  constructor(private readonly o: GroupComputeOptions) {}

  /** The files of a sample of the current assignment (the group's server asks for them by id). */
  sampleBytes(id: string): Promise<SampleBytes> {
    const bytes = this.files.get(id);
    return bytes ? Promise.resolve(bytes) : Promise.reject(new UndeliverableTaskError(`sample ${id}: the aggregator was not sent its files`));
  }

  adoptWeights(version: number, params: ReadonlyMap<string, Float32Array>, shapes: ReadonlyMap<string, readonly number[]>): Promise<void> {
    for (const k of params.keys()) this.o.trainable.set(k, shapes.get(k) ?? [params.get(k)!.length]);
    this.version = version;
    this.params = params;
    // What the group's workers will report: the weights as decoded here, which is what they decode too.
    this.hash = versionHash(params, version);
    return Promise.resolve();
  }

  setWeights(version: number, params: ReadonlyMap<string, Float32Array>): Promise<void> {
    return this.adoptWeights(version, new Map([...params].map(([k, v]) => [k, v.slice()])), new Map());
  }

  async trainStep(work: StepWork): Promise<StepResult> {
    if (work.weightsVersion !== this.version) throw new Error(`step ${work.step} needs weights version ${work.weightsVersion}; the aggregator holds ${this.version}`);
    const results = await this.distribute(
      work.samples,
      (w, samples) => w.trainStep({ ...work, samples }),
      (r) => (r.step !== work.step ? `answered step ${r.step} for step ${work.step}` : r.weightsHash !== undefined && r.weightsHash !== this.hash ? 'holds different weights (hash mismatch)' : undefined),
      (w, r) => this.throughput.record(w.id, r.samples.length, r.computeSeconds),
    );
    // The sum is sent before the next step starts (the session handles one message at a time): its arrays can be reused.
    const folded = foldResults(results, this.sums);
    this.sums = folded.grads;
    // The coordinator gives this group one sample per worker first: tell it how many there are now.
    return { ...folded, weightsHash: this.hash, workers: Math.max(1, this.o.pool.size) };
  }

  async evaluate(work: EvalWork, split: 'train' | 'test'): Promise<EvalResult> {
    const results = await this.distribute(work.samples, (w, samples) => w.evaluate({ ...work, samples }, split));
    return { scores: results.flatMap((r) => r.scores), failed: results.flatMap((r) => r.failed) };
  }

  /**
   * Runs `task` for the samples spread over the group's workers holding the current weights, in
   * the group's order; a worker whose call fails or whose result `check` refuses is evicted and its
   * samples go round again. Results come in worker order (the first round's, then the re-runs').
   */
  private async distribute<R>(
    samples: readonly SampleTask[],
    task: (w: WorkerEndpoint, part: SampleTask[]) => Promise<R>,
    check: (r: R) => string | undefined = () => undefined,
    measured: (w: WorkerEndpoint, r: R) => void = () => undefined,
  ): Promise<R[]> {
    this.files.clear();
    for (const s of samples) if (s.bytes) this.files.set(s.id, s.bytes);
    const done: R[] = [];
    let pending = [...samples];
    while (pending.length) {
      await this.o.pool.sync(this.version, this.params);
      const workers = this.o.pool.current(this.version);
      if (workers.length === 0) throw new Error(`host group ${this.o.group} has no worker left holding weights version ${this.version}`);
      const counts = planShares(pending.length, this.throughput.weights(workers.map((w) => w.id)));
      let from = 0;
      const parts = workers.map((w, i) => [w, pending.slice(from, (from += counts[i]!))] as const).filter(([, part]) => part.length > 0);
      const settled = await Promise.allSettled(parts.map(([w, part]) => task(w, part.map((s) => ({ id: s.id })))));
      for (const r of settled) if (r.status === 'rejected' && r.reason instanceof UndeliverableTaskError) throw r.reason;
      pending = [];
      settled.forEach((r, i) => {
        const [w, part] = parts[i]!;
        const refused = r.status === 'fulfilled' ? check(r.value) : errorMessage(r.reason);
        if (refused === undefined && r.status === 'fulfilled') {
          measured(w, r.value);
          done.push(r.value);
        } else {
          this.o.pool.evict(w.id, refused ?? 'failed');
          this.o.log?.(`group ${this.o.group}: worker ${w.id} evicted: ${refused}; its ${part.length} sample(s) go to the group's others`);
          pending.push(...part);
        }
      });
    }
    this.files.clear();
    return done;
  }
}
