// A worker's own /metrics (in-process): session, tasks and bytes through the observer, GPU gauges
// from a fake nvidia-smi, and a lint-clean exposition.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { lintMetrics } from '../../../shared/prometheus/name_lint.js';
import { GpuQuery } from '../../../worker/metrics/gpu_query.js';
import { serveWorkerMetrics } from '../../../worker/metrics/serve_worker_metrics.js';
import { createWorkerMetrics } from '../../../worker/metrics/worker_metrics.js';
import { promtool, promtoolOrSkip } from '../../helpers/promtool.js';
import { scrape, valueOf } from '../../helpers/scrape.js';
import { fakeNvidiaSmi } from '../../helpers/fake_nvidia_smi.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'samlora-wmetrics-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('worker metrics', () => {
  it('serve steps, compute time, bytes, session and GPU gauges', async (t) => {
    const smi = fakeNvidiaSmi(mkdtempSync(path.join(tmp, 'smi-')), 'echo "1, 3072, 81920, 87"');
    const m = await serveWorkerMetrics({ listen: { host: '127.0.0.1', port: 0 }, device: { kind: 'cuda', deviceId: 0 }, gpu: new GpuQuery({ command: smi, device: '1' }) });
    try {
      const o = m.observer;
      o.connected?.('node-a-3');
      o.bytes?.('received', 4096);
      o.trainStep?.({ samples: 2, computeSeconds: 0.5 });
      o.bytes?.('sent', 1000);
      o.trainStep?.({ samples: 1, computeSeconds: 0.25 });
      o.bytes?.('sent', 500);
      o.evaluated?.({ samples: 4, seconds: 0.3 });
      let s = await scrape(m.url);
      assert.equal(valueOf(s, 'samlora_worker_info', { worker: 'node-a-3', device: 'cuda:0' }), 1);
      assert.equal(valueOf(s, 'samlora_worker_connected'), 1);
      assert.equal(valueOf(s, 'samlora_worker_sessions_total'), 1);
      assert.equal(valueOf(s, 'samlora_worker_train_steps_total'), 2);
      assert.equal(valueOf(s, 'samlora_worker_train_samples_total'), 3);
      assert.equal(valueOf(s, 'samlora_worker_eval_samples_total'), 4);
      assert.equal(valueOf(s, 'samlora_worker_task_seconds_count', { task: 'train' }), 2);
      assert.equal(valueOf(s, 'samlora_worker_task_seconds_sum', { task: 'train' }), 0.75);
      assert.equal(valueOf(s, 'samlora_worker_task_seconds_count', { task: 'eval' }), 1);
      assert.equal(valueOf(s, 'samlora_worker_weights_received_bytes_total'), 4096);
      assert.equal(valueOf(s, 'samlora_worker_gradients_sent_bytes_total'), 1500);
      assert.equal(valueOf(s, 'samlora_gpu_memory_used_bytes', { gpu: '1' }), 3072 * 1048576);
      assert.equal(valueOf(s, 'samlora_gpu_memory_total_bytes', { gpu: '1' }), 81920 * 1048576);
      assert.equal(valueOf(s, 'samlora_gpu_utilization_ratio', { gpu: '1' }), 0.87);
      assert.equal(valueOf(s, 'samlora_gpu_query_failures_total'), 0);
      assert.ok(valueOf(s, 'samlora_process_cpu_seconds_total') > 0);
      assert.deepEqual(lintMetrics(s.families), []);
      const bin = promtoolOrSkip(t);
      if (bin) promtool(bin, ['check', 'metrics'], s.text);
      o.disconnected?.();
      o.connected?.('node-a-4');
      s = await scrape(m.url);
      assert.deepEqual(
        s.families.find((f) => f.name === 'samlora_worker_info')!.samples.map((x) => x.labels.worker),
        ['node-a-4'],
        'one info series: the current session',
      );
      assert.equal(valueOf(s, 'samlora_worker_sessions_total'), 2);
    } finally {
      await m.close();
    }
  });

  it('a failing nvidia-smi leaves the GPU gauges empty and counts one failure per scrape', async () => {
    const smi = fakeNvidiaSmi(mkdtempSync(path.join(tmp, 'bad-')), 'echo "NVML: driver not loaded" >&2; exit 9');
    const m = createWorkerMetrics({ device: { kind: 'cuda', deviceId: 0 }, gpu: new GpuQuery({ command: smi, device: '0' }), processMetrics: false });
    const text = await m.registry.metrics();
    assert.doesNotMatch(text, /^samlora_gpu_memory_used_bytes\{/m);
    assert.match(text, /^samlora_gpu_query_failures_total 1$/m);
    assert.match(await m.registry.metrics(), /^samlora_gpu_query_failures_total 2$/m);
  });

  it('GPU gauges only on CUDA workers with nvidia-smi on PATH', async () => {
    const dir = mkdtempSync(path.join(tmp, 'path-'));
    fakeNvidiaSmi(dir, 'echo "0, 1, 2, 3"');
    const saved = process.env.PATH;
    try {
      process.env.PATH = dir;
      assert.equal(createWorkerMetrics({ device: { kind: 'cuda', deviceId: 0 }, processMetrics: false }).gpu, true);
      const cpu = createWorkerMetrics({ device: { kind: 'cpu' }, processMetrics: false });
      assert.equal(cpu.gpu, false);
      assert.doesNotMatch(await cpu.registry.metrics(), /samlora_gpu_/);
      process.env.PATH = path.join(dir, 'none');
      assert.equal(createWorkerMetrics({ device: { kind: 'cuda', deviceId: 0 }, processMetrics: false }).gpu, false);
    } finally {
      process.env.PATH = saved;
    }
  });
});
