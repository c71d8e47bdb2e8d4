// The dynamic loss scaler of an fp16 run (runtime.precision: fp16), from the run's configuration
// and, on a resume, the state its checkpoint saved. fp32 runs have none.

import type { TrainConfig } from '../shared/config/index.js';
import { errorMessage } from '../shared/errors/error_message.js';
import { DynamicLossScaler, type LossScalerState } from './optimizer/loss_scaler.js';

/**
 * The scaler of `config` (undefined for fp32), continuing from `saved` when given (a checkpoint's
 * state.json `lossScaler`, hostile until checked: `where` names it in the error).
 */
export function lossScalerFor(config: TrainConfig, saved?: unknown, where = 'checkpoint'): DynamicLossScaler | undefined {
  if (config.runtime.precision !== 'fp16') return undefined;
  const opts = { initialScale: config.runtime.lossScale.initial, growthInterval: config.runtime.lossScale.growthInterval };
  if (saved === undefined) return new DynamicLossScaler(opts);
  if (typeof saved !== 'object' || saved === null) throw new Error(`${where}: lossScaler is ${JSON.stringify(saved)}, not an object`);
  try {
    return new DynamicLossScaler(opts, saved as LossScalerState);
  } catch (err) {
    throw new Error(`${where}: lossScaler: ${errorMessage(err)}`);
  }
}
