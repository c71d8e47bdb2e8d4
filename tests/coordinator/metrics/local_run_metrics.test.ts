// /metrics during a real tiny local run: scraped over HTTP mid-run (from a step event) and at the
// end, read with the exposition parser, and checked against the run's own summary.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { runLocal } from '../../../launcher/in_process_run.js';
import { serveRunMetrics } from '../../../coordinator/metrics/serve_run_metrics.js';
import { RunEvents } from '../../../coordinator/run_events.js';
import { writeDemoDataset } from '../../../shared/data/demo_data.js';
import { lintMetrics } from '../../../shared/prometheus/name_lint.js';
import { tinyConfigYaml } from '../../helpers/tiny_config.js';
import { promtool, promtoolOrSkip } from '../../helpers/promtool.js';
import { type Scrape, scrape, valueOf } from '../../helpers/scrape.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'samlora-metrics-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('metrics of a local run', () => {
  it('agree with the run mid-way and at the end, and pass the lints', { timeout: 120_000 }, async (t) => {
    const demo = path.join(tmp, 'demo');
    await writeDemoDataset(demo, { seed: 2, train: 5, test: 2, size: 64 });
    const cfg = path.join(tmp, 'c.yaml');
    writeFileSync(cfg, tinyConfigYaml({ train: path.join(demo, 'train'), test: path.join(demo, 'test'), checkpointDir: tmp }));
    const events = new RunEvents();
    const server = await serveRunMetrics({ listen: { host: '127.0.0.1', port: 0 }, events });
    let midRun: Promise<Scrape> | undefined;
    events.on((e) => {
      if (e.kind === 'step' && e.step === 2) midRun = scrape(server.url);
    });
    let end: Scrape;
    let summary;
    try {
      summary = await runLocal({ configPath: cfg, runDir: path.join(tmp, 'run'), events });
      end = await scrape(server.url);
    } finally {
      await server.close();
    }
    assert.equal(summary.status, 'completed');
    assert.ok(midRun, 'step 2 happened');
    const mid = await midRun;

    // Mid-run: at least the steps up to the scrape, and every view of "steps" agrees.
    const midSteps = valueOf(mid, 'samlora_steps_total');
    assert.ok(midSteps >= 2 && midSteps <= summary.steps, `mid-run steps ${midSteps}`);
    assert.equal(valueOf(mid, 'samlora_step_duration_seconds_count'), midSteps);
    assert.equal(valueOf(mid, 'samlora_step'), midSteps);
    assert.equal(valueOf(mid, 'samlora_run_info', { run_id: summary.run_id, device: 'cpu', rank: '4' }), 1);

    // The end: counters equal the summary.
    assert.equal(valueOf(end, 'samlora_steps_total'), summary.steps);
    assert.equal(valueOf(end, 'samlora_step'), summary.steps);
    assert.equal(valueOf(end, 'samlora_steps_planned'), summary.steps);
    assert.equal(valueOf(end, 'samlora_samples_total'), summary.epochs.reduce((a, e) => a + e.samples_trained, 0));
    assert.equal(valueOf(end, 'samlora_epochs_total'), summary.epochs_completed);
    assert.equal(valueOf(end, 'samlora_skipped_steps_total'), summary.skipped_steps);
    assert.equal(valueOf(end, 'samlora_loss'), summary.final_loss);
    assert.equal(valueOf(end, 'samlora_loss_finite'), 1);
    assert.equal(valueOf(end, 'samlora_eval_dice_ratio'), summary.eval_after!.dice);
    assert.equal(valueOf(end, 'samlora_eval_iou_ratio'), summary.eval_after!.iou);
    assert.equal(valueOf(end, 'samlora_eval_best_dice_ratio'), summary.best!.dice);
    assert.equal(valueOf(end, 'samlora_step_duration_seconds_count'), summary.steps);
    assert.equal(valueOf(end, 'samlora_step_duration_seconds_bucket', { le: '+Inf' }), summary.steps);
    assert.equal(valueOf(end, 'samlora_reduce_duration_seconds_count'), summary.steps);
    assert.equal(valueOf(end, 'samlora_wait_for_slowest_seconds_count'), summary.steps);
    assert.equal(valueOf(end, 'samlora_step_overhead_seconds_count'), summary.steps);
    // Overhead is the step less the compute inside it: never more than the steps themselves.
    assert.ok(valueOf(end, 'samlora_step_overhead_seconds_sum') <= valueOf(end, 'samlora_step_duration_seconds_sum'));
    assert.equal(valueOf(end, 'samlora_worker_compute_seconds_count', { worker: 'local-0' }), summary.steps);
    assert.ok(valueOf(end, 'samlora_step_duration_seconds_sum') > 0);
    assert.ok(valueOf(end, 'samlora_images_per_second') > 0);
    assert.ok(valueOf(end, 'samlora_learning_rate') > 0);
    assert.ok(valueOf(end, 'samlora_checkpoints_total') >= 2, 'epoch checkpoint, best, final');
    assert.equal(valueOf(end, 'samlora_checkpoint_step'), summary.steps);
    assert.ok(valueOf(end, 'samlora_checkpoint_age_seconds') >= 0);
    assert.equal(valueOf(end, 'samlora_workers', { state: 'live' }), 1);
    assert.equal(valueOf(end, 'samlora_worker_evictions_total'), 0);
    assert.ok(valueOf(end, 'samlora_process_resident_memory_bytes') > 0);
    assert.match(end.contentType, /^text\/plain; version=0\.0\.4/);

    for (const s of [mid, end]) assert.deepEqual(lintMetrics(s.families), []);
    const bin = promtoolOrSkip(t);
    if (bin) for (const s of [mid, end]) promtool(bin, ['check', 'metrics'], s.text);
  });
});
