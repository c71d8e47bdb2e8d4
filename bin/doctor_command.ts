// `sam-lora doctor` (also `npm run check:gpu`): can this host train, and on which devices (doctor/).

import { loadConfig } from '../shared/config/index.js';
import { ORT_CUDA_DEFAULTS } from '../shared/graph/cuda_settings.js';
import { runDoctor } from '../doctor/doctor.js';
import { formatDoctorReport } from '../doctor/doctor_text.js';
import { cudaSettings } from '../shared/contract/runtime_options.js';
import { UsageError } from './cli_errors.js';
import { defineCommand } from './define_command.js';

const USAGE = `usage: sam-lora doctor [--json] [--gpu N ...] [--cpu-only] [--require-gpu] [--steps N] [--config FILE]

  Checks that this host can train: Node and onnxruntime-node with its execution providers; the
  CUDA provider and the CUDA libraries it needs (each found or missing, with the fix; a host with
  only CUDA 13 is recognised); the GPUs nvidia-smi sees. Then trains a few steps of the built-in
  tiny variant on the CPU and on each GPU, and compares every GPU's losses and gradients with the
  CPU's; reports node placement, step time, bytes copied per step and peak memory.
  Exits 1 when anything fails; a host without a GPU passes on its CPU alone unless --require-gpu.

  --json          one JSON report on stdout instead of the summary
  --gpu N         check CUDA device N (repeatable; default: every visible GPU)
  --cpu-only      check no GPU
  --require-gpu   fail when no GPU can be checked (for hosts that must have one)
  --steps N       training steps per device (default 4, at least 2)
  --config FILE   take the CUDA settings (runtime.use_tf32, ...) from this training config
`;

function intValue(name: string, value: string, min: number): number {
  if (!/^\d+$/.test(value) || Number(value) < min) throw new UsageError(`--${name} must be an integer >= ${min} (got "${value}")`);
  return Number(value);
}

export const doctorCommand = defineCommand({
  name: 'doctor',
  summary: 'check this host: onnxruntime, the CUDA provider and its libraries, GPUs, a short training run per device',
  usage: USAGE,
  options: {
    json: { type: 'boolean' },
    gpu: { type: 'string', multiple: true },
    'cpu-only': { type: 'boolean' },
    'require-gpu': { type: 'boolean' },
    steps: { type: 'string' },
    config: { type: 'string' },
  },
  run: async ({ values }) => {
    if (values['cpu-only'] && (values.gpu?.length || values['require-gpu'])) throw new UsageError('--cpu-only excludes --gpu and --require-gpu');
    const gpus = values['cpu-only'] ? [] : values.gpu?.map((g) => intValue('gpu', g, 0));
    const cuda = values.config !== undefined ? cudaSettings(await loadConfig(values.config, {}, { checkPaths: false })) : { ...ORT_CUDA_DEFAULTS };
    const report = await runDoctor({
      steps: values.steps !== undefined ? intValue('steps', values.steps, 2) : 4,
      ...(gpus ? { gpus } : {}),
      requireGpu: values['require-gpu'] ?? false,
      cuda,
      progress: (line) => void process.stderr.write(`sam-lora doctor: ${line}\n`),
    });
    process.stdout.write(values.json ? `${JSON.stringify(report, null, 2)}\n` : formatDoctorReport(report));
    return report.ok ? 0 : 1;
  },
});
