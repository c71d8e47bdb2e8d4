// How a process runs the model a run's configuration asks for (device, threads, CUDA settings): the
// coordinator's in-process workers and every remote worker read it from the same config, the same way.

import type { TrainConfig } from '../config/index.js';
import type { CudaSettings } from '../graph/cuda_settings.js';
import type { RuntimeOptions } from '../graph/runtime.js';

/** The CUDA provider settings of a run's configuration. */
export function cudaSettings(config: TrainConfig): CudaSettings {
  const r = config.runtime;
  return { gpuMemLimit: r.gpuMemLimit, arenaExtendStrategy: r.arenaExtendStrategy, cudnnConvAlgoSearch: r.cudnnConvAlgoSearch, useTf32: r.useTf32 };
}

export function runtimeOptions(config: TrainConfig): RuntimeOptions {
  return {
    device: config.runtime.device === 'cuda' ? { kind: 'cuda', deviceId: config.runtime.gpu } : { kind: 'cpu' },
    ...(config.runtime.threads > 0 ? { intraOpThreads: config.runtime.threads } : {}),
    cuda: cudaSettings(config),
  };
}
