// ThreadedWorker: the WorkerEndpoint of a LocalWorker that runs in a node:worker_threads thread, so
// that ORT's session.run (which blocks the event loop for a whole step) leaves the main thread free
// to answer gRPC heartbeats. The thread sets up its own model and datasets from the config (plain
// data); requests and replies travel as messages with ids.
//
// - Gradients come back by transfer (their buffers move, no copy). setWeights copies the weights once
//   and transfers the copies: the caller keeps (and updates in place) its own arrays. Sample bytes
//   are copied.
// - An error thrown in the thread is rethrown here with its message, name, class (an instance of
//   the class when it is a built-in error, DataError, ConfigError or CudaUnavailableError; else a
//   RemoteError whose className names it), its own fields and the thread's stack.
// - If the thread dies (an uncaught error, process.exit, out of memory), every pending and later
//   call rejects with a ComputeThreadError saying so.
// - Calls run one at a time in the order made. The thread keeps the process alive only while a call
//   is pending.

import { Worker } from 'node:worker_threads';
import { runtimeOptions } from '../shared/contract/runtime_options.js';
import type { EvalResult, EvalWork, StepResult, StepWork, WorkerEndpoint } from '../shared/contract/worker_endpoint.js';
import { ConfigError, type TrainConfig } from '../shared/config/index.js';
import { DataError } from '../shared/data/errors.js';
import { applyCudaEnvironment } from '../shared/graph/cuda_settings.js';
import { CudaUnavailableError, type RuntimeOptions } from '../shared/graph/runtime.js';
import { buffersOf, type ComputeReply, type ComputeRequest, type ComputeThreadInit, type WireError } from './compute_thread_protocol.js';

export interface ThreadedWorkerOptions {
  id: string;
  /** The run's configuration (plain data); the thread builds the model from it (setupModel). */
  config: TrainConfig;
  /** The training split directory (default config.data.train; null: none, e.g. an evaluation-only worker). */
  train?: string | null;
  /** The test split directory (default config.data.test; null: none). */
  test?: string | null;
  /** Device and threads (default: from config.runtime). */
  runtime?: RuntimeOptions;
  /** The thread's entry module (default compute_thread_main.js beside this file); tests substitute one. */
  entry?: URL;
}

/** The compute thread is gone (crashed, exited, or closed): the call could not complete. */
export class ComputeThreadError extends Error {
  override readonly name = 'ComputeThreadError';
}

/** An error of a class this side does not reconstruct; className names the thread's class. */
export class RemoteError extends Error {
  constructor(
    message: string,
    readonly className: string,
  ) {
    super(message);
  }
}

type ErrorClass = abstract new (...args: never[]) => Error;
const KNOWN_ERRORS: ReadonlyMap<string, ErrorClass> = new Map<string, ErrorClass>([
  ['Error', Error],
  ['TypeError', TypeError],
  ['RangeError', RangeError],
  ['SyntaxError', SyntaxError],
  ['ReferenceError', ReferenceError],
  ['EvalError', EvalError],
  ['URIError', URIError],
  ['DataError', DataError],
  ['ConfigError', ConfigError],
  ['CudaUnavailableError', CudaUnavailableError],
]);

/** The thread's error as an error of this thread: same class where known, message, name, fields, stack. */
export function fromWireError(w: WireError): Error {
  const cls = KNOWN_ERRORS.get(w.className);
  const err: Error = cls ? (Object.create(cls.prototype) as Error) : new RemoteError(w.message, w.className);
  const hidden = (key: string, value: unknown): void => void Object.defineProperty(err, key, { value, writable: true, configurable: true, enumerable: false });
  hidden('message', w.message);
  hidden('stack', w.stack ?? `${w.name}: ${w.message}`);
  if (w.cause) hidden('cause', fromWireError(w.cause));
  for (const [k, v] of Object.entries(w.props)) Object.defineProperty(err, k, { value: v, writable: true, configurable: true, enumerable: true });
  hidden('name', w.name);
  return err;
}

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
type RequestBody = DistributiveOmit<ComputeRequest, 'id'>;

export class ThreadedWorker implements WorkerEndpoint {
  readonly id: string;
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private dead?: Error;
  private closing?: Promise<void>;
  private readonly ready: Promise<void>;
  private readonly exited: Promise<number>;
  private readyResolve!: () => void;
  private readyReject!: (e: unknown) => void;

  private constructor(o: ThreadedWorkerOptions) {
    this.id = o.id;
    const init: ComputeThreadInit = {
      id: o.id,
      config: o.config,
      train: o.train !== undefined ? o.train : o.config.data.train,
      test: o.test !== undefined ? o.test : o.config.data.test,
      runtime: o.runtime ?? runtimeOptions(o.config),
    };
    // Native libraries read the real environment, which a worker thread cannot change (TF32 off).
    if (init.runtime.device?.kind === 'cuda' && init.runtime.cuda) applyCudaEnvironment(init.runtime.cuda);
    this.ready = new Promise<void>((resolve, reject) => {
      this.readyResolve = resolve;
      this.readyReject = reject;
    });
    this.ready.catch(() => undefined);
    this.worker = new Worker(o.entry ?? new URL('./compute_thread_main.js', import.meta.url), { workerData: init, name: `compute ${o.id}` });
    this.exited = new Promise((resolve) => this.worker.once('exit', resolve));
    this.worker.on('message', (m: ComputeReply) => this.onMessage(m));
    this.worker.on('error', (err) => this.fail(`compute thread of worker ${this.id} crashed: ${err.message}`, err));
    this.worker.on('messageerror', (err) => {
      this.fail(`compute thread of worker ${this.id}: a reply could not be deserialised: ${err.message}`, err);
      void this.worker.terminate();
    });
    this.worker.on('exit', (code) => this.fail(this.closing ? `worker ${this.id} is closed` : `compute thread of worker ${this.id} exited unexpectedly (exit code ${code})`));
  }

  /** Starts the thread and waits until it has set up its model and datasets (rejects with the setup error). */
  static async start(o: ThreadedWorkerOptions): Promise<ThreadedWorker> {
    const w = new ThreadedWorker(o);
    try {
      await w.ready;
    } catch (err) {
      await w.worker.terminate();
      throw err;
    }
    w.updateRef();
    return w;
  }

  /** The thread's id (worker_threads.threadId inside it). */
  /** False once the thread died or was closed: every call would fail. */
  get usable(): boolean {
    return !this.dead && !this.closing;
  }

  get threadId(): number {
    return this.worker.threadId;
  }

  private onMessage(m: ComputeReply): void {
    if (m.kind === 'ready') return this.readyResolve();
    if (m.kind === 'setupError') return this.readyReject(fromWireError(m.error));
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    this.updateRef();
    if (m.ok) p.resolve(m.value);
    else p.reject(fromWireError(m.error));
  }

  /** The thread is gone: every pending and later call rejects. The first reason sticks. */
  private fail(message: string, cause?: unknown): void {
    if (!this.dead) this.dead = new ComputeThreadError(message, cause === undefined ? undefined : { cause });
    this.readyReject(this.dead);
    for (const p of this.pending.values()) p.reject(this.dead);
    this.pending.clear();
  }

  /** Keeps the process alive while a call is pending, not while the thread idles. */
  private updateRef(): void {
    if (this.dead) return;
    if (this.pending.size > 0) this.worker.ref();
    else this.worker.unref();
  }

  private call<T>(body: RequestBody, transfer: ArrayBuffer[] = []): Promise<T> {
    if (this.dead) return Promise.reject(this.dead);
    if (this.closing && body.method !== 'close') return Promise.reject(new ComputeThreadError(`worker ${this.id} is closed`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.updateRef();
      try {
        this.worker.postMessage({ ...body, id } as ComputeRequest, transfer);
      } catch (err) {
        this.pending.delete(id);
        this.updateRef();
        reject(err);
      }
    });
  }

  /**
   * Sends the thread a copy of the weights (one copy here, then transferred): the caller's arrays stay
   * usable (the coordinator updates them in place), and views into a larger buffer send their data only.
   */
  setWeights(version: number, params: ReadonlyMap<string, Float32Array>): Promise<void> {
    const copies = new Map([...params].map(([k, v]) => [k, v.slice()]));
    return this.call({ method: 'setWeights', version, params: copies }, buffersOf(copies.values()));
  }

  /**
   * Like setWeights, for arrays the caller hands over (freshly decoded ones): they are transferred
   * without a copy and are unusable here afterwards. An array that shares its buffer is copied.
   */
  adoptWeights(version: number, params: ReadonlyMap<string, Float32Array>): Promise<void> {
    const owned = new Map([...params].map(([k, v]) => [k, v.byteOffset === 0 && v.byteLength === v.buffer.byteLength ? v : v.slice()]));
    return this.call({ method: 'setWeights', version, params: owned }, buffersOf(owned.values()));
  }

  trainStep(work: StepWork): Promise<StepResult> {
    return this.call({ method: 'trainStep', work });
  }

  evaluate(work: EvalWork, split: 'train' | 'test' = 'test'): Promise<EvalResult> {
    return this.call({ method: 'evaluate', work, split });
  }

  /**
   * Releases the thread's sessions (after the calls already made finish) and ends the thread.
   * Calls made after close() reject. Safe to call twice, and after a crash.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      let error: unknown;
      if (!this.dead) {
        try {
          await this.call({ method: 'close' });
        } catch (err) {
          if (!(err instanceof ComputeThreadError)) error = err;
        }
      }
      await this.worker.terminate();
      await this.exited;
      if (error !== undefined) throw error;
    })();
    return this.closing;
  }
}
