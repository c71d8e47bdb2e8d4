// Metrics of a distributed run with real worker processes on loopback: the coordinator's bytes per
// worker and workers by state, the unauthenticated call it refused, and each worker's own /metrics
// (`sam-lora worker --metrics 127.0.0.1:0`) scraped mid-run.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { runDistributed } from '../../coordinator/distributed_run.js';
import { serveRunMetrics } from '../../coordinator/metrics/serve_run_metrics.js';
import { RunEvents } from '../../coordinator/run_events.js';
import { lintMetrics } from '../../shared/prometheus/name_lint.js';
import { SharedToken, TOKEN_ENV_VAR } from '../../shared/wire/security.js';
import { repoRoot } from '../helpers/fixtures.js';
import { type Scrape, scrape, valueOf } from '../helpers/scrape.js';
import { tinyRunConfig } from './helpers.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'samlora-dmetrics-'));
const CLI = path.join(repoRoot(), 'dist', 'bin', 'sam-lora.js');
const TOKEN = 'metrics-token-0123456789abcdef';
const children: ChildProcess[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
});

interface Worker {
  proc: ChildProcess;
  /** Its metrics URL, from the line it prints at start. */
  url: Promise<string>;
  exited: Promise<number | null>;
}

function worker(address: string, env: NodeJS.ProcessEnv, attempts = '3'): Worker {
  const proc = spawn(process.execPath, [CLI, 'worker', '--coordinator', address, '--device', 'cpu', '--threads', '1', '--connect-attempts', attempts, '--metrics', '127.0.0.1:0'], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.push(proc);
  let err = '';
  const url = new Promise<string>((resolve, reject) => {
    proc.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /serving metrics at (http:\S+)/.exec(err);
      if (m) resolve(m[1]!);
    });
    proc.on('exit', () => reject(new Error(`worker exited without serving metrics:\n${err}`)));
  });
  url.catch(() => undefined);
  return { proc, url, exited: new Promise((resolve) => proc.on('exit', (code) => resolve(code))) };
}

describe('metrics of a distributed run', () => {
  it('bytes and workers per worker label, refused calls, and the workers’ own metrics', { timeout: 120_000 }, async () => {
    const config = await tinyRunConfig(path.join(tmp, 'run'), { train: 8, batch: 4, epochs: 2 });
    const env = { ...process.env, [TOKEN_ENV_VAR]: TOKEN };
    const events = new RunEvents();
    const metrics = await serveRunMetrics({ listen: { host: '127.0.0.1', port: 0 }, events, requiredWorkers: 2 });
    const workers: Worker[] = [];
    let mid: Promise<{ coordinator: Scrape; workers: Scrape[] }> | undefined;
    events.on((e) => {
      if (e.kind === 'step' && e.step === 2) mid = Promise.all([scrape(metrics.url), Promise.all(workers.map(async (w) => scrape(await w.url)))]).then(([coordinator, ws]) => ({ coordinator, workers: ws }));
    });
    let end: Scrape;
    let summary;
    try {
      summary = await runDistributed({
        configPath: config,
        runDir: path.join(tmp, 'run', 'out'),
        listen: '127.0.0.1:0',
        minWorkers: 2,
        token: SharedToken.fromEnv(TOKEN_ENV_VAR, env),
        deadlineMs: 60_000,
        events,
        onListening: (address) => {
          // A worker without the token is refused first; training needs the two that follow.
          const { [TOKEN_ENV_VAR]: _drop, ...noToken } = env;
          void worker(address, noToken, '1').exited.then(() => {
            workers.push(worker(address, env), worker(address, env));
          });
        },
      });
      end = await scrape(metrics.url);
    } finally {
      await metrics.close();
    }
    assert.equal(summary.status, 'completed');
    assert.ok(mid, 'step 2 happened');
    const m = await mid;

    const ids = m.coordinator.families.find((f) => f.name === 'samlora_gradients_received_bytes_total')!.samples.map((s) => s.labels.worker!);
    assert.equal(ids.length, 2, `two worker labels: ${ids.join(', ')}`);
    assert.equal(valueOf(m.coordinator, 'samlora_workers', { state: 'live' }), 2);
    assert.equal(valueOf(m.coordinator, 'samlora_workers', { state: 'missing' }), 0);
    assert.equal(valueOf(m.coordinator, 'samlora_waiting_for_workers'), 0);
    for (const id of ids) {
      assert.ok(valueOf(end, 'samlora_gradients_received_bytes_total', { worker: id }) > 0);
      assert.ok(valueOf(end, 'samlora_weights_sent_bytes_total', { worker: id }) > 0);
      assert.ok(valueOf(end, 'samlora_worker_compute_seconds_count', { worker: id }) >= 1);
    }
    assert.equal(valueOf(end, 'samlora_steps_total'), summary.steps);
    assert.equal(valueOf(end, 'samlora_worker_joins_total'), 2);
    assert.equal(valueOf(end, 'samlora_worker_evictions_total'), summary.evictions);
    assert.equal(valueOf(end, 'samlora_workers', { state: 'evicted' }), 0);
    assert.ok(valueOf(end, 'samlora_rejected_messages_total', { cause: 'unauthenticated' }) >= 1, 'the token interceptor refusal is counted');
    assert.equal(valueOf(end, 'samlora_rejected_messages_total', { cause: 'invalid' }), 0);
    assert.deepEqual(lintMetrics(end.families), []);

    // Each worker's own /metrics, mid-run: it has joined under one of the coordinator's labels and computed.
    assert.equal(m.workers.length, 2);
    for (const w of m.workers) {
      const info = w.families.find((f) => f.name === 'samlora_worker_info')!.samples[0]!;
      assert.ok(ids.includes(info.labels.worker!), `worker ${info.labels.worker} is one of ${ids.join(', ')}`);
      assert.equal(info.labels.device, 'cpu');
      assert.equal(valueOf(w, 'samlora_worker_connected'), 1);
      assert.ok(valueOf(w, 'samlora_worker_train_steps_total') >= 1);
      assert.equal(valueOf(w, 'samlora_worker_task_seconds_count', { task: 'train' }), valueOf(w, 'samlora_worker_train_steps_total'));
      assert.ok(valueOf(w, 'samlora_worker_weights_received_bytes_total') > 0);
      assert.ok(valueOf(w, 'samlora_worker_gradients_sent_bytes_total') > 0);
      assert.ok(!w.families.some((f) => f.name.startsWith('samlora_gpu_')), 'no GPU gauges on a CPU worker');
      assert.deepEqual(lintMetrics(w.families), []);
    }
    const codes = await Promise.all(workers.map((w) => w.exited));
    assert.deepEqual(codes, [0, 0], 'workers leave cleanly, their metrics servers closed');
  });
});
