// How a process runs the model a run's configuration asks for (device, threads): the coordinator's
// in-process workers and every remote worker read it from the same config, the same way.

import type { TrainConfig } from '../config/index.js';
import type { RuntimeOptions } from '../graph/runtime.js';

export function runtimeOptions(config: TrainConfig): RuntimeOptions {
  return {
    device: config.runtime.device === 'cuda' ? { kind: 'cuda', deviceId: config.runtime.gpu } : { kind: 'cpu' },
    ...(config.runtime.threads > 0 ? { intraOpThreads: config.runtime.threads } : {}),
  };
}
