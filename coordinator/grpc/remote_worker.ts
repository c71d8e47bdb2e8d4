// The coordinator's view of one connected worker: a WorkerEndpoint over the worker's Session
// stream. Weights go out as a header + tensor chunks, a step assignment comes back as a result
// header + gradient chunks (checked against the trainable tensors' names and shapes), evaluations
// as one message. A step that misses its deadline, a broken stream, a worker error or a malformed
// reply rejects the call; the training loop then evicts the worker and gives its samples to others.

import type * as grpc from '@grpc/grpc-js';
import { performance } from 'node:perf_hooks';
import type { SampleBytes } from '../../shared/data/dataset.js';
import type * as pb from '../../shared/wire/messages.js';
import { sampleToWire } from '../../shared/wire/sample_codec.js';
import { writeAll } from '../../shared/wire/stream_io.js';
import type { PreEncodedMessage } from '../../shared/wire/pre_encoded.js';
import { TensorReceiver } from '../../shared/wire/tensor_receiver.js';
import {
  type EvalResult,
  type EvalWork,
  type SampleTask,
  type StepResult,
  type StepWork,
  UndeliverableTaskError,
  type WorkerEndpoint,
  type WorkerPlacement,
} from '../../shared/contract/worker_endpoint.js';
import type { WeightsBroadcast } from './weights_broadcast.js';
import { errorMessage } from '../../shared/errors/error_message.js';
import { wireText } from '../../shared/wire/wire_text.js';
import { checkEvalReply, checkGroupSize, checkStepReply } from './reply_check.js';

export type SessionStream = grpc.ServerDuplexStream<pb.WorkerMessage, pb.CoordinatorMessageOut | PreEncodedMessage>;

export interface RemoteWorkerOptions {
  /** Trainable tensors: the only gradients accepted, with their shapes. */
  trainable: ReadonlyMap<string, readonly number[]>;
  /** The weights messages, encoded once per version for every worker of the run. */
  broadcast: WeightsBroadcast;
  /** A step or evaluation not answered, or weights not taken, within this is a failure. */
  deadlineMs: number;
  /** Ships a sample's encoded files with its task (no shared filesystem needed). */
  sampleBytes?: (id: string, split: 'train' | 'test') => Promise<SampleBytes>;
  /** Counts messages refused as malformed or hostile. */
  onRejected?: (reason: string) => void;
  /** Tensor payload bytes sent to / received from the worker (metrics). */
  onBytes?: (direction: 'sent' | 'received', bytes: number) => void;
  /** Where the worker said it runs (its Join capabilities). */
  placement?: WorkerPlacement;
  /** How long an evicted worker waits before it joins again (Stop.reconnect_after_ms). */
  evictionCooldownMs?: number;
  /** Serializes a message, so a sample's size is known before it is sent (proto_loader's encodeCoordinatorMessage). */
  encode?: (m: pb.CoordinatorMessageOut) => PreEncodedMessage;
  /** The session's message limit: a sample message over it is refused here, naming the sample. */
  maxMessageBytes?: number;
  /** Told when the workers behind this session changed (an aggregator's GroupSize). */
  onWorkers?: (workers: number) => void;
}



/** Most samples of one evaluation assignment. */
export const EVAL_CHUNK_SAMPLES = 16;

interface Waiter<T> {
  resolve: (v: T) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

export class RemoteWorker implements WorkerEndpoint {
  private dead?: string;
  /** Aborted when the worker is dead: every write waiting for the stream to drain gives up. */
  private readonly death = new AbortController();
  private stepWaiter?: Waiter<StepResult> & { step: number; assigned: string[]; scaled: boolean };
  private evalWaiter?: Waiter<EvalResult> & { requestId: number; assigned: string[] };
  private header?: pb.StepResultHeader;
  private receiver?: TensorReceiver;
  private nextRequest = 1;
  /**
   * Where this worker's gradients are decoded, reused from one step to the next: the training loop
   * reduces a step's results before it starts the next step. A second task in the same step (work
   * redistributed after an eviction) gets fresh arrays, since the first result is still unreduced.
   */
  private gradBuffers?: { step: number; arrays: Map<string, Float32Array> };
  /** Hash of the weights as the worker received them, and of the coordinator's own (they differ with bf16). */
  private sent?: { wire: string; own: string };
  /** When the last message came (performance.now(): a wall-clock step must not evict anyone). */
  lastSeen = performance.now();
  private beats = 0;
  readonly placement?: WorkerPlacement;
  /**
   * Workers behind this session free to take a share: an aggregator's group as its last GroupSize
   * said (0 while it has none), else 1. The pool counts them for min_workers.
   */
  workers = 1;

  constructor(
    readonly id: string,
    private readonly call: SessionStream,
    private readonly o: RemoteWorkerOptions,
  ) {
    if (o.placement) this.placement = o.placement;
  }

  /** Routes one message from the worker's stream. */
  onMessage(m: pb.WorkerMessage): void {
    this.lastSeen = performance.now();
    try {
      switch (m.kind) {
        case 'heartbeat':
          return;
        case 'step_result':
          return this.onStepHeader(m.step_result);
        case 'tensor':
        case 'packed':
          return this.onData(m);
        case 'eval_result':
          return this.onEval(m.eval_result);
        case 'group_size':
          checkGroupSize(m.group_size);
          this.workers = m.group_size.workers;
          return this.o.onWorkers?.(this.workers);
        case 'error':
          return this.failPending(new Error(`worker ${this.id} reported ${wireText(m.error.code, 40)}: ${wireText(m.error.message)}`));
        default:
          throw new Error(`unexpected message ${String(m.kind)}`);
      }
    } catch (err) {
      const reason = wireText(errorMessage(err));
      this.o.onRejected?.(reason);
      this.failPending(new Error(`worker ${this.id} sent a malformed reply: ${reason}`));
    }
  }

  private onStepHeader(h: pb.StepResultHeader): void {
    const w = this.stepWaiter;
    if (!w) throw new Error(`a step result for step ${h.step} that was not asked for`);
    if (h.step !== w.step) throw new Error(`a result for step ${h.step} while step ${w.step} is running`);
    checkStepReply(h, w.assigned, { scaled: w.scaled });
    if (h.overflow) {
      // fp16 overflow: no gradients follow; the training loop skips the step for everyone.
      this.header = h;
      this.receiver = undefined;
      return this.completeStep();
    }
    const names = h.grads.map((g) => g.name).sort();
    const want = [...this.o.trainable.keys()].sort();
    if (names.length !== want.length || names.some((n, i) => n !== want[i])) throw new Error('the gradient list does not match the trainable tensors');
    this.header = h;
    // Non-finite gradients are refused here: one bad worker must not turn a step into a skipped one.
    if (!this.gradBuffers || this.gradBuffers.step === h.step) {
      this.gradBuffers = { step: h.step, arrays: new Map([...this.o.trainable].map(([k, s]) => [k, new Float32Array(s.reduce((a, b) => a * b, 1))])) };
    }
    this.gradBuffers.step = h.step;
    this.receiver = new TensorReceiver(h.grads, { expected: this.o.trainable, rejectNonFinite: true, targets: this.gradBuffers.arrays });
    if (want.length === 0) this.completeStep();
  }

  private onData(m: Extract<pb.WorkerMessage, { kind: 'tensor' | 'packed' }>): void {
    if (!this.receiver) throw new Error(`tensor data outside a step result`);
    const before = this.receiver.bytes;
    this.receiver.push(m);
    this.o.onBytes?.('received', this.receiver.bytes - before);
    if (this.receiver.complete) this.completeStep();
  }

  private completeStep(): void {
    const h = this.header!;
    const tensors = this.receiver?.finish() ?? new Map<string, { data: Float32Array }>();
    const w = this.stepWaiter!;
    this.header = undefined;
    this.receiver = undefined;
    this.stepWaiter = undefined;
    clearTimeout(w.timer);
    w.resolve({
      step: h.step,
      grads: new Map([...tensors].map(([k, t]) => [k, t.data])),
      weightSum: h.weight_sum,
      lossSum: h.loss_sum,
      samples: h.samples.map((s) => ({ id: s.id, loss: s.loss, weight: s.weight })),
      failed: h.failed.map((f) => ({ id: f.id, reason: wireText(f.reason) })),
      computeSeconds: h.compute_seconds,
      ...(h.peak_rss_bytes > 0 ? { peakRssBytes: h.peak_rss_bytes } : {}),
      ...(h.workers !== undefined && h.workers > 1 ? { workers: h.workers } : {}),
      // The worker holds what the wire delivered (bf16-rounded weights, with bf16): translate its
      // hash to the coordinator's so the training loop compares like with like.
      weightsHash: this.sent && h.weights_hash === this.sent.wire ? this.sent.own : h.weights_hash,
      ...(h.overflow ? { overflow: true } : {}),
    });
  }

  private onEval(r: pb.EvalResult): void {
    const w = this.evalWaiter;
    if (!w || r.request_id !== w.requestId) throw new Error(`an evaluation result for request ${r.request_id} that was not asked for`);
    checkEvalReply(r, w.assigned);
    this.evalWaiter = undefined;
    clearTimeout(w.timer);
    w.resolve({ scores: r.scores.map((s) => ({ id: s.id, dice: s.dice, iou: s.iou, objects: s.objects })), failed: r.failed.map((f) => ({ id: f.id, reason: wireText(f.reason) })) });
  }

  /** The stream ended or broke: every pending and later call fails. */
  markDead(reason: string): void {
    this.dead ??= reason;
    if (!this.death.signal.aborted) this.death.abort(new Error(`worker ${this.id}: ${reason}`));
    this.failPending(new Error(`worker ${this.id}: ${reason}`));
  }

  private failPending(err: Error): void {
    for (const w of [this.stepWaiter, this.evalWaiter]) {
      if (!w) continue;
      clearTimeout(w.timer);
      w.reject(err);
    }
    this.stepWaiter = undefined;
    this.evalWaiter = undefined;
    this.header = undefined;
    this.receiver = undefined;
  }

  private alive(): void {
    if (this.dead) throw new Error(`worker ${this.id}: ${this.dead}`);
  }

  private waiter<T>(what: string, onTimeout: () => void): { promise: Promise<T>; waiter: Waiter<T> } {
    let waiter!: Waiter<T>;
    const promise = new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        onTimeout();
        reject(new Error(`worker ${this.id}: no answer to ${what} within ${this.o.deadlineMs} ms`));
      }, this.o.deadlineMs);
      waiter = { resolve, reject, timer };
    });
    return { promise, waiter };
  }

  /**
   * The assignment's sample list (ids only) and the messages that carry the samples' files ahead of
   * it, one sample per message: an assignment of many large samples never exceeds the message limit.
   */
  private async tasks(samples: SampleTask[], split: 'train' | 'test'): Promise<{ ahead: (pb.CoordinatorMessageOut | PreEncodedMessage)[]; tasks: pb.SampleTask[] }> {
    const ship = this.o.sampleBytes;
    const tasks = samples.map((s) => ({ id: s.id, bytes: null }));
    if (!ship) return { ahead: [], tasks };
    const ahead = await Promise.all(
      samples.map(async (s) => {
        const m: pb.CoordinatorMessageOut = { sample: sampleToWire(await ship(s.id, split)) };
        if (!this.o.encode) return m;
        const encoded = this.o.encode(m);
        const max = this.o.maxMessageBytes;
        if (max !== undefined && encoded.bytes.length > max) {
          throw new UndeliverableTaskError(`${split} sample ${s.id} is ${encoded.bytes.length} bytes as a message, over the message limit of ${max} bytes`);
        }
        return encoded;
      }),
    );
    return { ahead, tasks };
  }

  /**
   * Writes messages unless the reply promise settles first (its deadline, or the worker's death,
   * settles it: the write then gives up too, and a deadline must not fire on a promise nobody
   * awaits yet).
   */
  private async send(messages: (pb.CoordinatorMessageOut | PreEncodedMessage)[], reply: Promise<unknown>): Promise<void> {
    const settled = reply.then(
      () => undefined,
      () => undefined,
    );
    await Promise.race([writeAll(this.call, messages, this.death.signal).catch(() => undefined), settled]);
  }

  /** The coordinator's sign of life (the worker drops a session that stays silent). */
  heartbeat(): void {
    if (this.dead) return;
    try {
      this.call.write({ heartbeat: { unix_millis: Date.now(), sequence: ++this.beats } });
    } catch {
      // The stream is gone; its end event evicts the worker.
    }
  }

  /** Resolves once every weights message is written; rejects when the worker dies or the deadline passes first. */
  async setWeights(version: number, params: ReadonlyMap<string, Float32Array>): Promise<void> {
    this.alive();
    const encoded = this.o.broadcast.encoded(version, params);
    this.sent = { own: encoded.ownHash, wire: encoded.wireHash };
    const deadline = AbortSignal.timeout(this.o.deadlineMs);
    try {
      await writeAll<pb.CoordinatorMessageOut | PreEncodedMessage>(this.call, encoded.messages, AbortSignal.any([this.death.signal, deadline]));
    } catch (err) {
      if (!deadline.aborted || this.death.signal.aborted) throw err;
      // Half a weights message is on the stream: this session cannot be used again.
      this.markDead(`did not take weights version ${version} within ${this.o.deadlineMs} ms`);
      throw new Error(`worker ${this.id}: did not take weights version ${version} within ${this.o.deadlineMs} ms`);
    }
    this.o.onBytes?.('sent', encoded.payloadBytes);
  }

  async trainStep(work: StepWork): Promise<StepResult> {
    this.alive();
    if (this.stepWaiter) throw new Error(`worker ${this.id} is already running step ${this.stepWaiter.step}`);
    const { ahead, tasks: samples } = await this.tasks(work.samples, 'train');
    this.alive(); // the stream may have broken while the samples were read
    const { promise, waiter } = this.waiter<StepResult>(`step ${work.step}`, () => (this.stepWaiter = undefined));
    this.stepWaiter = { ...waiter, step: work.step, assigned: work.samples.map((x) => x.id), scaled: work.lossScale !== undefined };
    await this.send([...ahead, { step: { epoch: work.epoch, step: work.step, weights_version: work.weightsVersion, samples, loss_scale: work.lossScale ?? 0 } }], promise);
    return promise;
  }

  /**
   * An evaluation share goes as assignments of at most EVAL_CHUNK_SAMPLES samples, one after the
   * other: the files a worker holds at once stay bounded however large the test split is.
   */
  async evaluate(work: EvalWork, split: 'train' | 'test' = 'test'): Promise<EvalResult> {
    const out: EvalResult = { scores: [], failed: [] };
    for (let i = 0; i < work.samples.length || i === 0; i += EVAL_CHUNK_SAMPLES) {
      const r = await this.evaluateChunk({ ...work, samples: work.samples.slice(i, i + EVAL_CHUNK_SAMPLES) }, split);
      out.scores.push(...r.scores);
      out.failed.push(...r.failed);
    }
    return out;
  }

  private async evaluateChunk(work: EvalWork, split: 'train' | 'test'): Promise<EvalResult> {
    this.alive();
    const { ahead, tasks: samples } = await this.tasks(work.samples, split);
    this.alive();
    const requestId = this.nextRequest++;
    const { promise, waiter } = this.waiter<EvalResult>(`evaluation ${requestId}`, () => (this.evalWaiter = undefined));
    this.evalWaiter = { ...waiter, requestId, assigned: work.samples.map((x) => x.id) };
    await this.send([...ahead, { eval: { request_id: requestId, weights_version: work.weightsVersion, split: split === 'train' ? 'SPLIT_TRAIN' : 'SPLIT_TEST', samples } }], promise);
    return promise;
  }

  /**
   * Ends the session, telling the worker what to do next: an eviction (the default: the pool
   * closes a worker only to evict it) makes it rejoin after the cooldown, STOP_RUN_COMPLETE makes
   * it exit, STOP_COORDINATOR_STOPPING makes it reconnect to the coordinator that resumes the run.
   */
  async close(reason = 'evicted by the coordinator', kind: pb.StopKind = 'STOP_EVICTED'): Promise<void> {
    this.markDead(reason);
    try {
      this.call.write({ stop: { reason, kind, reconnect_after_ms: kind === 'STOP_EVICTED' ? (this.o.evictionCooldownMs ?? 0) : 0 } });
      this.call.end();
    } catch {
      // The stream is already gone.
    }
  }
}
