// nvidia-smi for the GPU gauges: the CSV it prints, the device it is asked about, and a bounded
// call (a fake nvidia-smi stands in; no GPU needed).

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { fakeNvidiaSmi } from '../../helpers/fake_nvidia_smi.js';
import { GpuQuery, findExecutable, nvidiaSmiDevice, parseNvidiaSmiCsv } from '../../../worker/metrics/gpu_query.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'samlora-gpu-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('nvidia-smi query', () => {
  it('parses the CSV into base units, N/A as absent', () => {
    assert.deepEqual(parseNvidiaSmiCsv('0, 1024, 81559, 37\n1, [N/A], 81559, [Not Supported]\n'), [
      { index: '0', memoryUsedBytes: 1024 * 1048576, memoryTotalBytes: 81559 * 1048576, utilization: 0.37 },
      { index: '1', memoryUsedBytes: null, memoryTotalBytes: 81559 * 1048576, utilization: null },
    ]);
    assert.deepEqual(parseNvidiaSmiCsv(''), []);
    assert.throws(() => parseNvidiaSmiCsv('No devices were found'), /unexpected nvidia-smi line/);
  });

  it('maps the CUDA device through CUDA_VISIBLE_DEVICES (nvidia-smi ignores it)', () => {
    assert.equal(nvidiaSmiDevice(0, {}), '0');
    assert.equal(nvidiaSmiDevice(1, { CUDA_VISIBLE_DEVICES: '2,3' }), '3');
    assert.equal(nvidiaSmiDevice(0, { CUDA_VISIBLE_DEVICES: 'GPU-8a5e' }), 'GPU-8a5e');
  });

  it('finds executables on PATH only', () => {
    const bin = fakeNvidiaSmi(tmp, 'true');
    assert.equal(findExecutable('nvidia-smi', `/nonexistent${path.delimiter}${tmp}`), bin);
    assert.equal(findExecutable('nvidia-smi', '/nonexistent'), undefined);
  });

  it('asks about its device once per scrape and gives up after the timeout', async () => {
    const dir = mkdtempSync(path.join(tmp, 'ok-'));
    const log = path.join(dir, 'calls');
    const ok = fakeNvidiaSmi(dir, `echo "$@" >> ${log}\n[ "$3" = "-i" ] && [ "$4" = "3" ] || exit 3\necho "3, 2048, 8192, 50"`);
    const q = new GpuQuery({ command: ok, device: '3' });
    const [a, b] = await Promise.all([q.sample(), q.sample()]);
    assert.deepEqual(a, [{ index: '3', memoryUsedBytes: 2048 * 1048576, memoryTotalBytes: 8192 * 1048576, utilization: 0.5 }]);
    assert.equal(a, b, 'one call shared');
    assert.equal(readFileSync(log, 'utf8').split('\n').filter(Boolean).length, 1);
    const slow = fakeNvidiaSmi(mkdtempSync(path.join(tmp, 'slow-')), 'exec sleep 30');
    const t0 = Date.now();
    await assert.rejects(new GpuQuery({ command: slow, device: '0', timeoutMs: 200 }).sample(), /nvidia-smi failed/);
    assert.ok(Date.now() - t0 < 10_000, 'bounded');
  });
});
