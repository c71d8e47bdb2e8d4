import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { listGpus, parseComputeApps, parseGpuList, processGpuMemory, visibleCudaDevices } from '../../doctor/gpu_inventory.js';
import { fakeNvidiaSmi } from '../helpers/fake_nvidia_smi.js';

const LIST = `0, NVIDIA H100 80GB HBM3, 81559, 560.35.03, GPU-aaaa1111-0000-0000-0000-000000000000
1, Tesla V100-SXM2-16GB, [N/A], 560.35.03, GPU-bbbb2222-0000-0000-0000-000000000000
`;

describe('GPU inventory', () => {
  it('parses the GPU list (memory in MiB, unknown memory as null)', () => {
    const gpus = parseGpuList(LIST);
    assert.deepEqual(gpus[0], { index: '0', name: 'NVIDIA H100 80GB HBM3', memoryTotalBytes: 81559 * 2 ** 20, driver: '560.35.03', uuid: 'GPU-aaaa1111-0000-0000-0000-000000000000' });
    assert.equal(gpus[1]!.memoryTotalBytes, null);
    assert.equal(parseGpuList('0, Board, with a comma, 100, 1.0, GPU-x\n')[0]!.name, 'Board, with a comma');
    assert.throws(() => parseGpuList('No devices were found\n'), /unexpected nvidia-smi line/);
  });

  it('sums the GPU memory of each process and skips what it cannot read', () => {
    const apps = parseComputeApps('1234, 500\n1234, 250\n99, [N/A]\n');
    assert.equal(apps.get(1234), 750 * 2 ** 20);
    assert.equal(apps.has(99), false);
  });

  it('maps CUDA device numbers through CUDA_VISIBLE_DEVICES (indexes, UUID prefixes; stops at an unknown one)', () => {
    const gpus = parseGpuList(LIST);
    assert.deepEqual(visibleCudaDevices(gpus, {}).map((v) => [v.cuda, v.gpu?.index]), [[0, '0'], [1, '1']]);
    assert.deepEqual(visibleCudaDevices(gpus, { CUDA_VISIBLE_DEVICES: '1' }).map((v) => [v.cuda, v.gpu?.index]), [[0, '1']]);
    assert.deepEqual(visibleCudaDevices(gpus, { CUDA_VISIBLE_DEVICES: 'GPU-bbbb2222,0' }).map((v) => [v.cuda, v.gpu?.index]), [[0, '1'], [1, '0']]);
    assert.deepEqual(visibleCudaDevices(gpus, { CUDA_VISIBLE_DEVICES: '0,7,1' }).map((v) => v.cuda), [0]);
    assert.deepEqual(visibleCudaDevices(gpus, { CUDA_VISIBLE_DEVICES: '' }), []);
  });

  it('asks a (fake) nvidia-smi, and reports its failure', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'samlora-smi-'));
    const smi = fakeNvidiaSmi(dir, `case "$1" in
  --query-gpu=*) printf '%s' '${LIST}' ;;
  --query-compute-apps=*) echo "$PPID, 300" ;;
esac`);
    assert.deepEqual((await listGpus(smi)).map((g) => g.name), ['NVIDIA H100 80GB HBM3', 'Tesla V100-SXM2-16GB']);
    assert.equal(await processGpuMemory(smi, process.pid), 300 * 2 ** 20);
    const broken = fakeNvidiaSmi(mkdtempSync(path.join(tmpdir(), 'samlora-smi-')), 'echo "NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver" >&2; exit 9');
    await assert.rejects(listGpus(broken), /nvidia-smi failed: NVIDIA-SMI has failed because it could not communicate/);
  });
});
