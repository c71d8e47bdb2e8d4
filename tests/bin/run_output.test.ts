// How a run shows itself without a terminal (CI, kubectl logs, nohup, --no-dashboard): one-line
// progress records on stdout and JSON logs carrying the run id on stderr, from a real tiny run.

import assert from 'node:assert/strict';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { outputSettingsFromArgs, startRunOutput, wantsDashboard } from '../../bin/run_output.js';
import { runLocal } from '../../launcher/in_process_run.js';
import { RunEvents } from '../../coordinator/run_events.js';
import { tinyRunFiles } from '../helpers/recorded_run.js';

class Collect extends Writable {
  text = '';
  isTTY?: boolean;
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

const fakeTty = Object.assign(new Collect(), { isTTY: true });

describe('run output', () => {
  it('line mode for piped stdout, CI, or --no-dashboard; the dashboard only on a terminal', () => {
    assert.equal(wantsDashboard(true, { stdout: new Collect(), env: {} }), false);
    assert.equal(wantsDashboard(true, { stdout: fakeTty, env: {} }), true);
    assert.equal(wantsDashboard(true, { stdout: fakeTty, env: { CI: 'true' } }), false);
    assert.equal(wantsDashboard(true, { stdout: fakeTty, env: { CI: 'false' } }), true);
    assert.equal(wantsDashboard(false, { stdout: fakeTty, env: {} }), false);
    assert.deepEqual(outputSettingsFromArgs({ 'no-dashboard': true, 'progress-interval': '0', 'log-level': 'warn' }), { log: { level: 'warn', pretty: false }, dashboard: false, progressIntervalSeconds: 0 });
    assert.throws(() => outputSettingsFromArgs({ 'progress-interval': 'soon' }), /--progress-interval soon/);
  });

  it('without a terminal: progress records on stdout, JSON logs with the run id on stderr, nothing twice', async () => {
    const files = await tinyRunFiles({ epochs: 2 });
    try {
      const stdout = new Collect();
      const stderr = new Collect();
      const events = new RunEvents();
      const signal = new AbortController().signal;
      const output = startRunOutput(
        { ...outputSettingsFromArgs({ 'progress-interval': '0' }), events, signal, stop: { request: () => undefined, notice: () => undefined, stoppedBy: () => undefined }, bindings: { role: 'coordinator' } },
        { stdout, stderr, stdin: process.stdin, env: {} },
      );
      assert.equal(output.mode, 'lines');
      const summary = await runLocal({ configPath: files.config, runDir: path.join(files.dir, 'run'), events, signal });
      await output.close();
      const records = stdout.text.trim().split('\n');
      assert.equal(records.length, summary.steps, 'one record per step (interval 0), nothing else');
      for (const r of records) assert.match(r, /^step \d+\/6 epoch \d\/2 loss \d+\.\d{4} lr \d\.\de-\d [\d.]+ img\/s eta \S+ workers 1\/1 overhead \d+%$/);
      const logs = stderr.text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      assert.ok(logs.every((l) => l.role === 'coordinator' && typeof l.level === 'number' && typeof l.msg === 'string'));
      const started = logs.findIndex((l) => l.event === 'run_started');
      assert.ok(started >= 0);
      for (const l of logs.slice(started)) assert.equal(l.runId, 'run', JSON.stringify(l));
      assert.ok(!logs.some((l) => /^epoch \d+\/\d+ step /.test(String(l.msg))), 'the per-step lines are the records, not logs');
      assert.equal(logs.filter((l) => l.event === 'eval').length, summary.evals.length + 1, 'each evaluation once (and the one before training)');
      assert.equal(logs.filter((l) => String(l.msg).startsWith('eval ')).length, summary.evals.length + 1);
      assert.ok(logs.some((l) => l.event === 'checkpoint' && l.name === 'final'));
      assert.equal(logs[logs.length - 1]!.event, 'run_ended');
    } finally {
      files.cleanup();
    }
  });
});
