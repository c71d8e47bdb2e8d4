// deploy/prometheus and deploy/grafana against what the endpoints really serve: promtool checks the
// scrape config, the alert rules (and their unit test, tests/deploy/alerts_test.yml) and every
// dashboard query; every samlora_* series the alerts and the dashboard use must be in a real scrape
// of a coordinator and a (GPU) worker.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { serveRunMetrics } from '../../coordinator/metrics/serve_run_metrics.js';
import { RunEvents } from '../../coordinator/run_events.js';
import type { MetricFamily } from '../../shared/prometheus/exposition.js';
import { GpuQuery } from '../../worker/metrics/gpu_query.js';
import { serveWorkerMetrics } from '../../worker/metrics/serve_worker_metrics.js';
import { fakeNvidiaSmi } from '../helpers/fake_nvidia_smi.js';
import { repoRoot } from '../helpers/fixtures.js';
import { promtool, promtoolOrSkip } from '../helpers/promtool.js';
import { scrape } from '../helpers/scrape.js';

const ROOT = repoRoot();
const PROM = path.join(ROOT, 'deploy', 'prometheus');
const DASHBOARD = path.join(ROOT, 'deploy', 'grafana', 'sam-lora-dashboard.json');
const tmp = mkdtempSync(path.join(tmpdir(), 'samlora-deploy-prom-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

interface Panel {
  type: string;
  title: string;
  targets?: { expr: string }[];
  panels?: Panel[];
}

function dashboardQueries(): { title: string; expr: string }[] {
  const d = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: Panel[] };
  const walk = (ps: Panel[]): { title: string; expr: string }[] => ps.flatMap((p) => [...(p.targets ?? []).map((t) => ({ title: p.title, expr: t.expr })), ...walk(p.panels ?? [])]);
  return walk(d.panels);
}

function alertRules(): { alert: string; expr: string }[] {
  const doc = parseYaml(readFileSync(path.join(PROM, 'alerts.yml'), 'utf8')) as { groups: { rules: { alert: string; expr: string }[] }[] };
  return doc.groups.flatMap((g) => g.rules);
}

const usedNames = (expr: string): string[] => [...expr.matchAll(/\bsamlora_[a-z0-9_]+\b/g)].map((m) => m[0]);

/** Series (with at least one sample) a coordinator and a CUDA worker serve after some activity. */
let served: Set<string>;

before(async () => {
  const events = new RunEvents();
  const coordinator = await serveRunMetrics({ listen: { host: '127.0.0.1', port: 0 }, events, requiredWorkers: 1 });
  const smi = fakeNvidiaSmi(tmp, 'echo "0, 1000, 80000, 40"');
  const worker = await serveWorkerMetrics({ listen: { host: '127.0.0.1', port: 0 }, device: { kind: 'cuda', deviceId: 0 }, gpu: new GpuQuery({ command: smi, device: '0' }) });
  try {
    events.emit({ kind: 'worker_joined', id: 'w-1', host: 'h', device: 'cuda:0' });
    events.emit({ kind: 'run_started', info: { runId: 'r', variant: 'vit_b', checkpoint: null, rank: 4, device: 'cuda', epochs: 1, stepsPerEpoch: 1, totalSteps: 1, batchSize: 1, startStep: 0, lr: 1e-4 } });
    events.emit({ kind: 'eval', step: 0, epoch: 0, dice: 0.2, iou: 0.1, best: true, phase: 'before' });
    events.emit({ kind: 'tensor_bytes', direction: 'sent', workerId: 'w-1', bytes: 10 });
    events.emit({ kind: 'tensor_bytes', direction: 'received', workerId: 'w-1', bytes: 10 });
    const timing = { stepSeconds: 1, reduceSeconds: 0.1, waitForSlowestSeconds: 0, workers: [{ workerId: 'w-1', samples: 1, computeSeconds: 0.8, answeredAfterSeconds: 0.9, loss: 0.4 }] };
    events.emit({ kind: 'step', step: 1, epoch: 1, images: 1, loss: 0.4, lr: 1e-4, skipped: false, timing });
    events.emit({ kind: 'epoch_done', epoch: 1 });
    events.emit({ kind: 'checkpoint', step: 1, dir: '/x', name: 'step-00000001' });
    worker.observer.connected?.('w-1');
    worker.observer.trainStep?.({ samples: 1, computeSeconds: 0.8 });
    worker.observer.bytes?.('sent', 10);
    const families: MetricFamily[] = [...(await scrape(coordinator.url)).families, ...(await scrape(worker.url)).families];
    served = new Set(families.filter((f) => f.samples.length > 0).flatMap((f) => [f.name, ...f.samples.map((s) => s.name)]));
  } finally {
    await Promise.all([coordinator.close(), worker.close()]);
  }
});

describe('deploy/prometheus and deploy/grafana', () => {
  it('every series the alerts and the dashboard use is served', () => {
    const uses = [...alertRules().map((r) => ({ where: `alert ${r.alert}`, expr: r.expr })), ...dashboardQueries().map((q) => ({ where: `panel "${q.title}"`, expr: q.expr }))];
    assert.ok(uses.length > 20);
    const missing = uses.flatMap((u) => usedNames(u.expr).filter((n) => !served.has(n)).map((n) => `${u.where}: ${n}`));
    assert.deepEqual(missing, []);
  });

  it('the dashboard is Grafana JSON with the panels operators need', () => {
    const d = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { uid: string; title: string; templating: { list: { name: string }[] }; panels: Panel[] };
    assert.ok(d.uid && d.title);
    assert.deepEqual(
      d.templating.list.map((v) => v.name),
      ['datasource', 'coordinator', 'worker'],
    );
    const exprs = dashboardQueries().map((q) => q.expr).join('\n');
    for (const needed of ['samlora_loss', 'samlora_eval_dice_ratio', 'samlora_eval_iou_ratio', 'histogram_quantile(0.9, sum by (le, instance) (rate(samlora_step_duration_seconds_bucket', 'samlora_images_per_second', 'samlora_workers{', 'samlora_gradients_received_bytes_total', 'samlora_worker_evictions_total', 'samlora_gpu_memory_used_bytes', 'samlora_gpu_utilization_ratio']) {
      assert.ok(exprs.includes(needed), `a panel queries ${needed}`);
    }
    const ids = d.panels.map((p) => (p as Panel & { id: number }).id);
    assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
  });

  it('promtool accepts the scrape config, the rules, their unit test and every dashboard query', (t) => {
    const bin = promtoolOrSkip(t);
    if (!bin) return;
    promtool(bin, ['check', 'config', path.join(PROM, 'prometheus.yml')]);
    promtool(bin, ['check', 'rules', path.join(PROM, 'alerts.yml')]);
    promtool(bin, ['test', 'rules', path.join(ROOT, 'tests', 'deploy', 'alerts_test.yml')]);
    // Each query as a recording rule: promtool parses its PromQL (Grafana's $variables sit inside strings).
    const rules = { groups: [{ name: 'dashboard', rules: dashboardQueries().map((q, i) => ({ record: `samlora_dashboard_query_${i}`, expr: q.expr })) }] };
    const file = path.join(tmp, 'dashboard_rules.yml');
    writeFileSync(file, JSON.stringify(rules));
    promtool(bin, ['check', 'rules', file]);
  });
});
