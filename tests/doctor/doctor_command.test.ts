import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import type { DoctorReport } from '../../doctor/doctor.js';
import { ortNativeDir } from '../../shared/graph/runtime.js';
import { findExecutable } from '../../worker/metrics/gpu_query.js';
import { fakeNvidiaSmi } from '../helpers/fake_nvidia_smi.js';
import { runNodeScript } from '../helpers/run_script.js';

const CLI = fileURLToPath(new URL('../../bin/sam-lora.js', import.meta.url));
// This host has no GPU and no CUDA provider: the GPU branches are reached through a fake nvidia-smi.
const withoutSmi = (process.env.PATH ?? '').split(path.delimiter).filter((d) => !d.includes('nvidia')).join(path.delimiter);

function smiDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'samlora-doctor-smi-'));
  fakeNvidiaSmi(dir, `case "$1" in
  --query-gpu=*) echo "0, NVIDIA H100 80GB HBM3, 81559, 560.35.03, GPU-aaaa1111-0000-0000-0000-000000000000" ;;
  --query-compute-apps=*) ;;
esac`);
  return dir;
}

const doctor = (args: string[], PATH: string, extra: NodeJS.ProcessEnv = {}): ReturnType<typeof runNodeScript> =>
  runNodeScript(CLI, ['doctor', '--steps', '2', ...args], { ...process.env, CUDA_VISIBLE_DEVICES: undefined, ...extra, PATH });

describe('sam-lora doctor', { timeout: 240_000 }, () => {
  it('a host without GPU passes on its CPU, says why no GPU was checked, and reports the CPU run', async (t) => {
    const smi = findExecutable('nvidia-smi', withoutSmi);
    if (smi) return t.skip('this host has nvidia-smi');
    const r = await doctor(['--json'], withoutSmi);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as DoctorReport;
    assert.equal(report.ok, true);
    assert.equal(report.onnxruntime.version, '1.29.0');
    assert.ok(report.onnxruntime.backends.some((b) => b.name === 'cuda'));
    assert.deepEqual(report.devices.map((d) => [d.device, d.ok]), [['cpu', true]]);
    const cpu = report.devices[0]!;
    assert.equal(cpu.losses.length, 2);
    assert.ok(cpu.stepSeconds! > 0 && cpu.feedBytesPerStep! > 0 && cpu.peakMemoryBytes! > 0);
    assert.match(report.warnings[0]!, /no GPU to check: nvidia-smi is not on PATH/);
    assert.deepEqual(report.problems, []);
  });

  it('a GPU that nvidia-smi lists but the CUDA provider cannot use fails, with the fix', async (t) => {
    if (existsSync(path.join(ortNativeDir() ?? '', 'libonnxruntime_providers_cuda.so'))) return t.skip('this host has the CUDA provider installed');
    const r = await doctor([], `${smiDir()}${path.delimiter}${withoutSmi}`);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /0: NVIDIA H100 80GB HBM3, 79\.65 GiB, driver 560\.35\.03/);
    assert.match(r.stdout, /cuda:0 +FAIL +NVIDIA H100 80GB HBM3\n +CUDA execution provider not available: libonnxruntime_providers_cuda\.so is missing/);
    assert.match(r.stdout, /Problems:\n {2}- the CUDA execution provider is not installed .*npm run install:cuda after npm ci/);
    assert.match(r.stdout, /cpu +ok/);
    assert.match(r.stdout, /Result: FAILED/);
  });

  it('--require-gpu fails where no GPU is visible; CUDA_VISIBLE_DEVICES selecting none is said', async () => {
    const r = await doctor(['--json', '--require-gpu'], `${smiDir()}${path.delimiter}${withoutSmi}`, { CUDA_VISIBLE_DEVICES: '' });
    assert.equal(r.code, 1, r.stderr);
    const report = JSON.parse(r.stdout) as DoctorReport;
    assert.match(report.problems[0]!, /no GPU to check: CUDA_VISIBLE_DEVICES= selects none of them/);
    assert.deepEqual(report.devices.map((d) => d.device), ['cpu']);
  });

  it('usage mistakes exit 2', async () => {
    const r = await doctor(['--cpu-only', '--gpu', '0'], withoutSmi);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--cpu-only excludes --gpu/);
  });
});
