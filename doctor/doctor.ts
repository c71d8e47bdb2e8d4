// `sam-lora doctor`: can this host train, and on which devices? The software (Node, onnxruntime-node
// and its execution providers), the CUDA provider and the libraries it needs, the GPUs nvidia-smi
// sees, then the training check on the CPU and on every GPU asked for, each GPU against the CPU.

import { findExecutable } from '../worker/metrics/gpu_query.js';
import * as ort from 'onnxruntime-node';
import { type CudaSettings, tf32InEffect } from '../shared/graph/cuda_settings.js';
import { ortNativeDir } from '../shared/graph/runtime.js';
import { compareRuns, medianStepSeconds, type RunResult, runTrainingCheck, type Agreement, TOLERANCES } from './device_check.js';
import { cudaProviderStatus, type CudaProviderStatus } from './cuda_provider.js';
import { type GpuInfo, listGpus, processGpuMemory, visibleCudaDevices } from './gpu_inventory.js';
import { readLdconfig } from './host_libraries.js';

export interface DoctorOptions {
  /** Training steps per device (>= 2). */
  steps: number;
  /** CUDA devices to check; undefined: every visible GPU. */
  gpus?: number[];
  /** No visible GPU is a failure (for hosts that must have one). */
  requireGpu: boolean;
  cuda: CudaSettings;
  threads?: number;
  env?: NodeJS.ProcessEnv;
  /** Progress lines (stderr) while the checks run. */
  progress?: (line: string) => void;
}

export interface DeviceReport {
  device: string;
  /** The GPU's name (nvidia-smi), for CUDA devices. */
  name?: string;
  ok: boolean;
  error?: string;
  losses: number[];
  stepSeconds: number | null;
  feedBytesPerStep: number | null;
  fetchBytesPerStep: number | null;
  peakMemoryBytes: number | null;
  /** What peakMemoryBytes measures. */
  memory: 'process peak RSS' | 'GPU memory held by this process (ORT arena, after the steps)' | null;
  placement: Record<string, number>;
  /** Op types ORT ran on the CPU provider in a CUDA session (copies to and from the host each). */
  cpuFallbackOps: string[];
  /** Against the CPU run (CUDA devices). */
  agreement?: Agreement & { tolerance: { lossRel: number; gradRelL2: number }; tf32: boolean };
}

export interface DoctorReport {
  ok: boolean;
  node: string;
  platform: string;
  onnxruntime: { version: string; backends: { name: string; bundled: boolean }[] };
  cudaProvider: CudaProviderStatus;
  cudaSettings: CudaSettings;
  nvidiaSmi: { path: string | null; gpus: GpuInfo[]; error?: string };
  checkModel: string;
  devices: DeviceReport[];
  problems: string[];
  warnings: string[];
}

function deviceReport(device: string, run: RunResult, peak: number | null, memory: DeviceReport['memory']): DeviceReport {
  return {
    device,
    ok: true,
    losses: run.steps.map((s) => s.loss),
    stepSeconds: medianStepSeconds(run.steps),
    feedBytesPerStep: run.transfer.feedBytes,
    fetchBytesPerStep: run.transfer.fetchBytes,
    peakMemoryBytes: peak,
    memory,
    placement: run.placement,
    cpuFallbackOps: run.cpuOps,
  };
}

function failedReport(device: string, error: string): DeviceReport {
  return { device, ok: false, error, losses: [], stepSeconds: null, feedBytesPerStep: null, fetchBytesPerStep: null, peakMemoryBytes: null, memory: null, placement: {}, cpuFallbackOps: [] };
}

/** The reference run's own sanity: finite losses that go down along its gradient steps. */
function cpuProblems(run: RunResult): string | undefined {
  const l = run.steps.map((s) => s.loss);
  if (!l.every(Number.isFinite)) return `a loss is not finite: ${l.join(', ')}`;
  for (const g of run.grads) for (const [k, v] of g) if (!v.every(Number.isFinite)) return `gradient ${k} is not finite`;
  if (!(l.at(-1)! < l[0]!)) return `the loss did not decrease along its own gradient (${l.join(' -> ')}): the gradients are wrong`;
  return undefined;
}

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

export async function runDoctor(o: DoctorOptions): Promise<DoctorReport> {
  const env = o.env ?? process.env;
  const say = o.progress ?? ((): void => undefined);
  const problems: string[] = [];
  const warnings: string[] = [];

  const nativeDir = ortNativeDir() ?? null;
  const cudaProvider = cudaProviderStatus(nativeDir, { ldLibraryPath: env.LD_LIBRARY_PATH, ldconfig: await readLdconfig() });

  const smi = findExecutable('nvidia-smi', env.PATH);
  const nvidiaSmi: DoctorReport['nvidiaSmi'] = { path: smi ?? null, gpus: [] };
  if (smi) {
    try {
      nvidiaSmi.gpus = await listGpus(smi);
    } catch (e) {
      nvidiaSmi.error = message(e);
    }
  }
  const visible = visibleCudaDevices(nvidiaSmi.gpus, env);
  const gpus = o.gpus ?? visible.map((v) => v.cuda);
  if (gpus.length === 0) {
    const why = !smi ? 'nvidia-smi is not on PATH (no NVIDIA driver here?)' : nvidiaSmi.error ? nvidiaSmi.error : env.CUDA_VISIBLE_DEVICES !== undefined && nvidiaSmi.gpus.length ? `CUDA_VISIBLE_DEVICES=${env.CUDA_VISIBLE_DEVICES} selects none of them` : 'nvidia-smi lists no GPU';
    (o.requireGpu ? problems : warnings).push(`no GPU to check: ${why}; only the CPU was checked`);
  }
  // The provider's problems matter where a GPU is to be used; elsewhere they are information.
  (gpus.length > 0 || o.requireGpu ? problems : warnings).push(...cudaProvider.problems);

  const devices: DeviceReport[] = [];
  say('checking the CPU');
  let ref: RunResult | undefined;
  try {
    ref = await runTrainingCheck({ device: { kind: 'cpu' }, steps: o.steps, ...(o.threads ? { threads: o.threads } : {}) });
    const r = deviceReport('cpu', ref, process.resourceUsage().maxRSS * 1024, 'process peak RSS');
    const bad = cpuProblems(ref);
    if (bad) Object.assign(r, { ok: false, error: bad });
    devices.push(r);
  } catch (e) {
    devices.push(failedReport('cpu', message(e)));
  }

  let tf32 = true;
  try {
    tf32 = tf32InEffect(o.cuda, env);
  } catch {
    // use_tf32 false: the session sets the environment on the main thread before CUDA starts.
    tf32 = false;
  }
  for (const gpu of gpus) {
    const label = `cuda:${gpu}`;
    const name = visible.find((v) => v.cuda === gpu)?.gpu?.name;
    say(`checking ${label}${name ? ` (${name})` : ''}`);
    if (!ref) {
      devices.push({ ...failedReport(label, 'not run: the CPU reference failed'), ...(name ? { name } : {}) });
      continue;
    }
    try {
      const run = await runTrainingCheck({ device: { kind: 'cuda', deviceId: gpu }, steps: o.steps, cuda: o.cuda, params: ref.params });
      let peak: number | null = null;
      if (smi) peak = await processGpuMemory(smi).catch(() => null);
      const r = deviceReport(label, run, peak, peak === null ? null : 'GPU memory held by this process (ORT arena, after the steps)');
      if (name) r.name = name;
      const tolerance = tf32 ? TOLERANCES.tf32 : TOLERANCES.fp32;
      r.agreement = { ...compareRuns(run, ref), tolerance, tf32 };
      const a = r.agreement;
      if (!(a.lossRel <= tolerance.lossRel && a.gradRelL2 <= tolerance.gradRelL2)) {
        r.ok = false;
        r.error = `differs from the CPU: loss ${a.lossRel.toExponential(2)} (tolerance ${tolerance.lossRel}), gradient ${a.gradRelL2.toExponential(2)} at ${a.worstGrad} (tolerance ${tolerance.gradRelL2})`;
      }
      if (r.cpuFallbackOps.length) warnings.push(`${label}: ${r.placement.CPUExecutionProvider ?? 0} node(s) ran on the CPU provider (${r.cpuFallbackOps.join(', ')}); each costs a copy between host and device`);
      devices.push(r);
    } catch (e) {
      devices.push({ ...failedReport(label, message(e)), ...(name ? { name } : {}) });
    }
  }
  for (const d of devices) if (!d.ok) problems.push(`${d.device}: ${d.error}`);

  return {
    ok: problems.length === 0,
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    onnxruntime: { version: ort.env.versions.node ?? 'unknown', backends: ort.listSupportedBackends().map((b) => ({ name: b.name, bundled: b.bundled })) },
    cudaProvider,
    cudaSettings: { ...o.cuda },
    nvidiaSmi,
    checkModel: 'the embedded demo variant (dim 64, depth 4, img 128), generated weights, LoRA rank 4 on q/v, batch 2',
    devices,
    problems,
    warnings,
  };
}
