// The CUDA execution provider's settings a run may choose, and what this build can actually apply.
//
// onnxruntime's CUDA provider has options for a device-memory limit, the arena's growth strategy,
// cuDNN's convolution algorithm search and TF32. onnxruntime-node 1.29's binding, however, reads
// only `deviceId` from a `{ name: 'cuda' }` provider entry (js/node/src/session_options_helper.cc
// creates OrtCUDAProviderOptionsV2 and sets device_id alone; the typings declare nothing else), so
// the other options keep ORT's defaults whatever is passed. TF32 is the exception: NVIDIA's cuBLAS
// and cuDNN honour NVIDIA_TF32_OVERRIDE=0 from the process environment, which turns it off for the
// whole process. Settings that cannot be applied are refused with the reason instead of ignored.

export const ARENA_EXTEND_STRATEGIES = ['next_power_of_two', 'same_as_requested'] as const;
export const CUDNN_CONV_ALGO_SEARCHES = ['exhaustive', 'heuristic', 'default'] as const;

export interface CudaSettings {
  /** Bytes the provider's device arena may hold; null: no limit. */
  gpuMemLimit: number | null;
  arenaExtendStrategy: (typeof ARENA_EXTEND_STRATEGIES)[number];
  cudnnConvAlgoSearch: (typeof CUDNN_CONV_ALGO_SEARCHES)[number];
  /** TF32 tensor-core math for fp32 matmuls and convolutions (Ampere and newer). */
  useTf32: boolean;
}

/** onnxruntime 1.29's own defaults for the CUDA provider (what a run gets when it sets nothing). */
export const ORT_CUDA_DEFAULTS: Readonly<CudaSettings> = Object.freeze({
  gpuMemLimit: null,
  arenaExtendStrategy: 'next_power_of_two',
  cudnnConvAlgoSearch: 'exhaustive',
  useTf32: true,
});

/** The environment variable cuBLAS and cuDNN read: '0' disables TF32 in the whole process. */
export const TF32_OVERRIDE_ENV = 'NVIDIA_TF32_OVERRIDE';

const BINDING = 'onnxruntime-node 1.29 passes only the device id to the CUDA provider (its binding reads no other CUDA option)';

/** Why each setting that differs from ORT's default cannot be applied by this build (config key -> reason). */
export function unappliableCudaSettings(s: CudaSettings): { key: string; message: string }[] {
  const out: { key: string; message: string }[] = [];
  if (s.gpuMemLimit !== ORT_CUDA_DEFAULTS.gpuMemLimit) {
    out.push({ key: 'runtime.gpu_mem_limit', message: `${BINDING}, so a memory limit cannot be applied; leave it null (no limit). To bound a worker's GPU memory, give it its own GPU or a MIG slice` });
  }
  if (s.arenaExtendStrategy !== ORT_CUDA_DEFAULTS.arenaExtendStrategy) {
    out.push({ key: 'runtime.arena_extend_strategy', message: `${BINDING}, so the arena always grows by ${ORT_CUDA_DEFAULTS.arenaExtendStrategy}; leave it at that` });
  }
  if (s.cudnnConvAlgoSearch !== ORT_CUDA_DEFAULTS.cudnnConvAlgoSearch) {
    out.push({ key: 'runtime.cudnn_conv_algo_search', message: `${BINDING}, so cuDNN's convolution search is always ${ORT_CUDA_DEFAULTS.cudnnConvAlgoSearch}; leave it at that` });
  }
  return out;
}

/** Throws naming every setting of `s` this build cannot apply. */
export function assertCudaSettingsApplicable(s: CudaSettings): void {
  const bad = unappliableCudaSettings(s);
  if (bad.length) throw new Error(bad.map((b) => `${b.key}: ${b.message}`).join('; '));
}

/**
 * Sets the process environment TF32 needs. Call it on the main thread before any CUDA session
 * exists: a worker thread's process.env is its own copy, invisible to native libraries.
 */
export function applyCudaEnvironment(s: CudaSettings, env: NodeJS.ProcessEnv = process.env): void {
  if (!s.useTf32) env[TF32_OVERRIDE_ENV] = '0';
}

/**
 * Whether TF32 will be on in a process with this environment, given the setting; throws when
 * use_tf32 is false and the environment was not prepared (the native libraries would ignore it).
 */
export function tf32InEffect(s: CudaSettings, env: NodeJS.ProcessEnv = process.env): boolean {
  const override = env[TF32_OVERRIDE_ENV];
  if (!s.useTf32 && override !== '0') {
    throw new Error(`runtime.use_tf32 is false but ${TF32_OVERRIDE_ENV} is ${override === undefined ? 'unset' : JSON.stringify(override)} in this process: set ${TF32_OVERRIDE_ENV}=0 before it starts (sam-lora does so on its main thread)`);
  }
  return override !== '0';
}
