// The run's event stream as observers (dashboard, metrics) see it during a real tiny run: what
// arrives, in what order, and that it agrees with the summary.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { runLocal } from '../../launcher/in_process_run.js';
import { type RunEvent, RunEvents } from '../../coordinator/run_events.js';
import { writeDemoDataset } from '../../shared/data/demo_data.js';
import { tinyConfigYaml } from '../helpers/tiny_config.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'samlora-events-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('run events', () => {
  it('a local run emits start, one step event per step, evaluations, checkpoints and the end', async () => {
    const demo = path.join(tmp, 'demo');
    await writeDemoDataset(demo, { seed: 2, train: 5, test: 2, size: 80 });
    const cfg = path.join(tmp, 'c.yaml');
    writeFileSync(cfg, tinyConfigYaml({ train: path.join(demo, 'train'), test: path.join(demo, 'test'), checkpointDir: tmp }));
    const events = new RunEvents();
    const seen: RunEvent[] = [];
    events.on((e) => seen.push(e));
    const summary = await runLocal({ configPath: cfg, runDir: path.join(tmp, 'run'), events });
    const kinds = seen.map((e) => e.kind);
    // Before the first worker only messages (`log`) from preparing the run.
    assert.equal(kinds.find((k) => k !== 'log'), 'worker_joined');
    assert.ok(kinds.indexOf('run_started') < kinds.indexOf('step'));
    assert.equal(kinds[kinds.length - 1], 'run_ended');
    const steps = seen.filter((e) => e.kind === 'step');
    assert.equal(steps.length, summary.steps);
    assert.deepEqual(
      steps.map((s) => s.step),
      Array.from({ length: summary.steps }, (_, i) => i + 1),
    );
    assert.deepEqual(
      steps.map((s) => s.loss),
      summary.losses,
    );
    assert.equal(
      steps.reduce((a, s) => a + s.images, 0),
      summary.epochs.reduce((a, e) => a + e.samples_trained, 0),
    );
    for (const s of steps) {
      assert.ok(s.timing.stepSeconds > 0 && s.timing.stepSeconds >= s.timing.reduceSeconds);
      assert.equal(s.timing.workers.length, 1);
      assert.equal(s.timing.workers[0]!.workerId, 'local-0');
    }
    const started = seen.find((e) => e.kind === 'run_started');
    assert.ok(started?.kind === 'run_started');
    assert.equal(started.info.totalSteps, summary.steps);
    assert.equal(started.info.rank, 4);
    const evals = seen.filter((e) => e.kind === 'eval');
    assert.equal(evals[0]?.phase, 'before');
    assert.equal(evals[evals.length - 1]?.phase, 'after');
    assert.equal(evals.filter((e) => e.phase === 'during').length, summary.evals.length - 1, 'one event per evaluation during training');
    assert.ok(seen.some((e) => e.kind === 'checkpoint'));
    const ended = seen[seen.length - 1]!;
    assert.ok(ended.kind === 'run_ended' && ended.status === 'completed');
  });

  it('a throwing observer is dropped without stopping the others', () => {
    const events = new RunEvents();
    let calls = 0;
    events.on(() => {
      throw new Error('broken dashboard');
    });
    events.on(() => calls++);
    const err = process.stderr.write;
    process.stderr.write = () => true;
    try {
      events.emit({ kind: 'log', level: 'info', text: 'a' });
      events.emit({ kind: 'log', level: 'info', text: 'b' });
    } finally {
      process.stderr.write = err;
    }
    assert.equal(calls, 2);
  });
});
