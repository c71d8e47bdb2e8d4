// The messages between ThreadedWorker (compute_thread.ts, main thread) and its compute thread
// (compute_thread_main.ts): the thread's setup data, requests and replies by id, and errors as plain
// data. Everything here must survive the structured clone of postMessage.

import type { EvalResult, EvalWork, SampleTask, StepResult, StepWork } from '../shared/contract/worker_endpoint.js';
import type { TrainConfig } from '../shared/config/index.js';
import type { RuntimeOptions } from '../shared/graph/runtime.js';

/** The thread's workerData: enough to set up the model and the datasets itself. */
export interface ComputeThreadInit {
  id: string;
  config: TrainConfig;
  /** The training split directory, or null for none. */
  train: string | null;
  /** The test split directory, or null for none. */
  test: string | null;
  runtime: RuntimeOptions;
}

export type ComputeRequest =
  | { id: number; method: 'setWeights'; version: number; params: Map<string, Float32Array> }
  | { id: number; method: 'trainStep'; work: StepWork }
  | { id: number; method: 'evaluate'; work: EvalWork; split: 'train' | 'test' }
  | { id: number; method: 'close' };

export type ComputeMethod = ComputeRequest['method'];

/** An error as plain data: what its class was, what it said, and its cloneable own fields. */
export interface WireError {
  name: string;
  /** The constructor's name (DataError, CudaUnavailableError, TypeError, ...). */
  className: string;
  message: string;
  stack?: string;
  /** Own enumerable fields that survive a structured clone (DataError.file, ConfigError.problems, code, ...). */
  props: Record<string, unknown>;
  cause?: WireError;
}

export type ComputeReply =
  | { kind: 'ready' }
  | { kind: 'setupError'; error: WireError }
  | { kind: 'result'; id: number; ok: true; value: StepResult | EvalResult | null }
  | { kind: 'result'; id: number; ok: false; error: WireError };

function cloneable(v: unknown): boolean {
  if (typeof v === 'function' || typeof v === 'symbol') return false;
  try {
    structuredClone(v);
    return true;
  } catch {
    return false;
  }
}

export function toWireError(err: unknown, depth = 0): WireError {
  if (!(err instanceof Error)) return { name: 'Error', className: 'Error', message: `non-Error value thrown: ${String(err)}`, props: {} };
  const props: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(err)) {
    if (k === 'name' || k === 'message' || k === 'stack' || k === 'cause') continue;
    if (cloneable(v)) props[k] = v;
  }
  const wire: WireError = { name: err.name, className: err.constructor?.name ?? 'Error', message: err.message, props };
  if (err.stack !== undefined) wire.stack = err.stack;
  if (err.cause !== undefined && depth < 4) wire.cause = toWireError(err.cause, depth + 1);
  return wire;
}

/** The distinct ArrayBuffers under the Float32Arrays of a map, to transfer rather than copy. */
export function buffersOf(arrays: Iterable<Float32Array>): ArrayBuffer[] {
  const seen = new Set<ArrayBuffer>();
  for (const a of arrays) {
    if (a.buffer instanceof ArrayBuffer) seen.add(a.buffer);
  }
  return [...seen];
}

function asBuffer(u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

/** The SampleTask bytes arrive as Uint8Arrays; the dataset readers expect Buffers (no copy). */
export function reviveSampleBytes(samples: SampleTask[]): void {
  for (const s of samples) {
    if (!s.bytes) continue;
    const b = s.bytes;
    b.image = asBuffer(b.image);
    if (b.mask) b.mask = asBuffer(b.mask);
  }
}
