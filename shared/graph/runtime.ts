// A thin wrapper over onnxruntime-node's InferenceSession: device choice, threads, optimisation
// level and profiling, feeds and fetches by name.
//
// Things to know about the Node binding:
// - session.run() blocks the event loop for the whole step; processes that must stay responsive
//   (gRPC heartbeats) run sessions in a worker thread.
// - freeDimensionOverrides is ignored by the Node binding, so graphs are emitted with static shapes.
// - ORT's constant folding materialises e.g. Transpose(initializer) as a second copy of a weight;
//   the graph builders avoid transposing frozen weights for that reason.

import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { isMainThread } from 'node:worker_threads';
import { applyCudaEnvironment, assertCudaSettingsApplicable, type CudaSettings, ORT_CUDA_DEFAULTS, tf32InEffect } from './cuda_settings.js';
import type { DType, HostArray } from './dtype.js';

export type Device = { kind: 'cpu' } | { kind: 'cuda'; deviceId: number };

export interface RuntimeOptions {
  device?: Device;
  intraOpThreads?: number;
  interOpThreads?: number;
  optimization?: 'disabled' | 'basic' | 'extended' | 'all';
  /** Writes an ORT JSON profile with this file prefix. */
  profilePrefix?: string;
  logSeverity?: 0 | 1 | 2 | 3 | 4;
  /** ORT's CPU memory arena (default on: plain allocation made the mini1024 step 60% slower). */
  memArena?: boolean;
  /**
   * ORT's memory pattern: one pre-planned block for every intermediate of a run. Off by default: it
   * keeps a training step's whole plan resident (mini1024 step: 2.6 GiB with it, 1.2 GiB without,
   * at the same speed).
   */
  memPattern?: boolean;
  /**
   * Weight prepacking (default on): each Gemm/MatMul kernel keeps its own packed copy of a constant
   * weight. A training graph reads every frozen weight in the forward and the backward pass, so it
   * holds extra copies (ViT-B: about 0.3 GB); training sessions turn it off (see training_session_options).
   */
  prepacking?: boolean;
  /** CUDA provider settings (device cuda only); ORT's defaults when omitted. See cuda_settings.ts. */
  cuda?: CudaSettings;
}

/** Bytes one run copied between the host and the session: onnxruntime-node has no device-resident tensors. */
export interface RunTransfer {
  /** Every feed's bytes (copied to the device on a GPU session). */
  feedBytes: number;
  /** Every fetched output's bytes (copied back). */
  fetchBytes: number;
}

export interface Feed {
  data: HostArray;
  shape: readonly number[];
  dtype?: DType;
}

export interface Fetched {
  data: Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array;
  shape: number[];
}

/** Raised when a CUDA session is requested but the CUDA execution provider is not installed. */
export class CudaUnavailableError extends Error {
  constructor(detail: string) {
    super(
      `CUDA execution provider not available: ${detail}. ` +
        'Install it with `npm run install:cuda` after `npm ci` (needs CUDA 12 and cuDNN 9 on the host), ' +
        'or run on the CPU with --device cpu.',
    );
    this.name = 'CudaUnavailableError';
  }
}

/** Directory holding onnxruntime-node's native libraries for this platform. */
export function ortNativeDir(): string | undefined {
  const req = createRequire(import.meta.url);
  const pkgDir = dirname(req.resolve('onnxruntime-node/package.json'));
  const binDir = join(pkgDir, 'bin');
  if (!existsSync(binDir)) return undefined;
  for (const napi of readdirSync(binDir)) {
    const dir = join(binDir, napi, process.platform, process.arch);
    if (existsSync(dir)) return dir;
  }
  return undefined;
}

/** Checks that the CUDA provider library shipped next to onnxruntime's core library; throws if not. */
export function assertCudaAvailable(): void {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new CudaUnavailableError(`onnxruntime-node ships CUDA only for linux/x64, this is ${process.platform}/${process.arch}`);
  }
  const dir = ortNativeDir();
  const lib = dir ? join(dir, 'libonnxruntime_providers_cuda.so') : undefined;
  if (!lib || !existsSync(lib)) {
    throw new CudaUnavailableError(`libonnxruntime_providers_cuda.so is missing from ${dir ?? 'onnxruntime-node/bin'} (a plain npm ci skips it; npm run install:cuda fetches it)`);
  }
}

function toOrtTensor(name: string, feed: Feed): ort.Tensor {
  const d = feed.data;
  const dtype = feed.dtype ?? inferDType(d);
  if (dtype === 'float16') return new ort.Tensor('float16', d as Uint16Array, feed.shape);
  if (dtype === 'bool') return new ort.Tensor('bool', d as Uint8Array, feed.shape);
  if (dtype === 'uint8') return new ort.Tensor('uint8', d as Uint8Array, feed.shape);
  if (dtype === 'float32' && d instanceof Float32Array) return new ort.Tensor('float32', d, feed.shape);
  if (dtype === 'float64' && d instanceof Float64Array) return new ort.Tensor('float64', d, feed.shape);
  if (dtype === 'int64' && d instanceof BigInt64Array) return new ort.Tensor('int64', d, feed.shape);
  if (dtype === 'int32' && d instanceof Int32Array) return new ort.Tensor('int32', d, feed.shape);
  throw new Error(`feed ${name}: data of type ${d.constructor.name} does not match dtype ${dtype}`);
}

function inferDType(d: HostArray): DType {
  if (d instanceof Float32Array) return 'float32';
  if (d instanceof Float64Array) return 'float64';
  if (d instanceof BigInt64Array) return 'int64';
  if (d instanceof Int32Array) return 'int32';
  if (d instanceof Uint16Array) return 'float16';
  return 'uint8';
}

export class GraphSession {
  private transfer: RunTransfer = { feedBytes: 0, fetchBytes: 0 };

  private constructor(
    private readonly session: ort.InferenceSession,
    readonly device: Device,
  ) {}

  /** Loads a model from a file path (external data resolved beside it) or from bytes. */
  static async create(model: string | Uint8Array, opts: RuntimeOptions = {}): Promise<GraphSession> {
    const device = opts.device ?? { kind: 'cpu' };
    if (device.kind === 'cuda') {
      assertCudaAvailable();
      const cuda = opts.cuda ?? ORT_CUDA_DEFAULTS;
      assertCudaSettingsApplicable(cuda);
      if (isMainThread) applyCudaEnvironment(cuda);
      tf32InEffect(cuda);
    }
    const options: ort.InferenceSession.SessionOptions = {
      executionProviders: device.kind === 'cuda' ? [{ name: 'cuda', deviceId: device.deviceId }] : ['cpu'],
      graphOptimizationLevel: opts.optimization ?? 'all',
      logSeverityLevel: opts.logSeverity ?? 3,
      enableCpuMemArena: opts.memArena ?? true,
      enableMemPattern: opts.memPattern ?? false,
    };
    // The Node binding joins nested keys with dots: session.disable_prepacking.
    if (opts.prepacking === false) options.extra = { session: { disable_prepacking: '1' } };
    if (opts.intraOpThreads !== undefined) options.intraOpNumThreads = opts.intraOpThreads;
    if (opts.interOpThreads !== undefined) options.interOpNumThreads = opts.interOpThreads;
    if (opts.profilePrefix) {
      options.enableProfiling = true;
      options.profileFilePrefix = opts.profilePrefix;
    }
    const session = typeof model === 'string' ? await ort.InferenceSession.create(model, options) : await ort.InferenceSession.create(model, options);
    return new GraphSession(session, device);
  }

  get inputNames(): readonly string[] {
    return this.session.inputNames;
  }

  get outputNames(): readonly string[] {
    return this.session.outputNames;
  }

  /** Runs the graph; fetches default to every output. Blocks the event loop while ORT computes. */
  async run(feeds: Readonly<Record<string, Feed>>, fetches?: readonly string[]): Promise<Record<string, Fetched>> {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const [name, feed] of Object.entries(feeds)) ortFeeds[name] = toOrtTensor(name, feed);
    const missing = this.session.inputNames.filter((n) => !(n in ortFeeds));
    if (missing.length) throw new Error(`run: missing feeds ${missing.join(', ')}`);
    const results = fetches ? await this.session.run(ortFeeds, [...fetches]) : await this.session.run(ortFeeds);
    const out: Record<string, Fetched> = {};
    let fetchBytes = 0;
    for (const [name, t] of Object.entries(results)) {
      const data = t.data as Fetched['data'];
      out[name] = { data, shape: [...t.dims] };
      fetchBytes += data.byteLength;
    }
    this.transfer = { feedBytes: Object.values(ortFeeds).reduce((a, t) => a + (t.data as HostArray).byteLength, 0), fetchBytes };
    return out;
  }

  /** What the last run() copied in and out. */
  get lastTransfer(): RunTransfer {
    return { ...this.transfer };
  }

  /** Stops profiling and returns the profile file path (when profiling was on). */
  endProfiling(): void {
    this.session.endProfiling();
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

/** The data of a float32 output, or an error naming it. */
export function asFloat32(results: Readonly<Record<string, Fetched>>, name: string): Float32Array {
  const f = results[name];
  if (!f) throw new Error(`output ${name} was not fetched`);
  if (!(f.data instanceof Float32Array)) throw new Error(`output ${name} is ${f.data.constructor.name}, not Float32Array`);
  return f.data;
}
