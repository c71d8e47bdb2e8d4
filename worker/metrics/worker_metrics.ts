// A worker process's own Prometheus metrics (`sam-lora worker --metrics`): its session, the tasks
// it computed and how long they took, tensor bytes, the process, and its GPU when it runs on CUDA
// and nvidia-smi is there. A fresh registry per worker; fed by the session through WorkerObserver.

import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Device } from '../../shared/graph/runtime.js';
import { TRAINING_SECONDS_BUCKETS } from '../../shared/prometheus/buckets.js';
import { registerProcessMetrics } from '../../shared/prometheus/process_metrics.js';
import type { WorkerObserver } from '../worker_observer.js';
import { gpuMetrics } from './gpu_metrics.js';
import { GpuQuery, findExecutable, nvidiaSmiDevice } from './gpu_query.js';

export interface WorkerMetricsOptions {
  device: Device;
  /** The GPU query (tests inject one); default: nvidia-smi from PATH on CUDA workers, none otherwise. */
  gpu?: GpuQuery | null;
  processMetrics?: boolean;
}

export interface WorkerMetrics {
  readonly registry: Registry;
  readonly observer: WorkerObserver;
  /** Whether GPU gauges are exported. */
  readonly gpu: boolean;
}

function defaultGpuQuery(device: Device): GpuQuery | null {
  if (device.kind !== 'cuda') return null;
  const command = findExecutable('nvidia-smi');
  return command ? new GpuQuery({ command, device: nvidiaSmiDevice(device.deviceId) }) : null;
}

export function createWorkerMetrics(o: WorkerMetricsOptions): WorkerMetrics {
  const registry = new Registry();
  const registers = [registry];
  const deviceName = o.device.kind === 'cuda' ? `cuda:${o.device.deviceId}` : 'cpu';
  const info = new Gauge({ name: 'samlora_worker_info', help: 'This worker: the id the coordinator gave it (its `worker` label there) and its device (always 1).', labelNames: ['worker', 'device'] as const, registers });
  const connected = new Gauge({ name: 'samlora_worker_connected', help: '1 while this worker has a session with the coordinator, else 0.', registers });
  const sessions = new Counter({ name: 'samlora_worker_sessions_total', help: 'Sessions this worker opened with a coordinator (reconnects included).', registers });
  const steps = new Counter({ name: 'samlora_worker_train_steps_total', help: 'Training step shares this worker computed.', registers });
  const trained = new Counter({ name: 'samlora_worker_train_samples_total', help: 'Training samples this worker computed gradients for.', registers });
  const evaluated = new Counter({ name: 'samlora_worker_eval_samples_total', help: 'Held-out samples this worker evaluated.', registers });
  const seconds = new Histogram({ name: 'samlora_worker_task_seconds', help: 'Compute time of one task (a training step share, an evaluation share) on this worker.', labelNames: ['task'] as const, buckets: [...TRAINING_SECONDS_BUCKETS], registers });
  const received = new Counter({ name: 'samlora_worker_weights_received_bytes_total', help: 'Weight tensor payload bytes received from the coordinator.', registers });
  const sent = new Counter({ name: 'samlora_worker_gradients_sent_bytes_total', help: 'Gradient tensor payload bytes sent to the coordinator.', registers });
  info.set({ worker: '', device: deviceName }, 1);
  const gpu = o.gpu === undefined ? defaultGpuQuery(o.device) : o.gpu;
  if (gpu) gpuMetrics(registry, gpu);
  if (o.processMetrics ?? true) registerProcessMetrics(registry);
  const observer: WorkerObserver = {
    connected(workerId) {
      info.reset();
      info.set({ worker: workerId, device: deviceName }, 1);
      connected.set(1);
      sessions.inc();
    },
    disconnected() {
      connected.set(0);
    },
    trainStep(s) {
      steps.inc();
      trained.inc(s.samples);
      seconds.observe({ task: 'train' }, s.computeSeconds);
    },
    evaluated(s) {
      evaluated.inc(s.samples);
      seconds.observe({ task: 'eval' }, s.seconds);
    },
    bytes(direction, n) {
      (direction === 'sent' ? sent : received).inc(n);
    },
  };
  return { registry, observer, gpu: gpu !== null };
}
