// `q` on the dashboard of a real run: the run stops after the step in progress, with a checkpoint
// that --resume continues from, and the dashboard says so.

import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { cleanup, render } from 'ink-testing-library';
import { Dashboard } from '../../dashboard/app.js';
import { RunStore } from '../../dashboard/run_store.js';
import { runLocal } from '../../launcher/in_process_run.js';
import { type RunEvent, RunEvents } from '../../coordinator/run_events.js';
import { tinyRunFiles } from '../helpers/recorded_run.js';

after(cleanup);

describe('dashboard stop key', () => {
  it('q stops a real run after the current step, with a checkpoint', async () => {
    // 50 epochs of 3 steps: far more than run before the key is pressed.
    const files = await tinyRunFiles({ epochs: 50 });
    try {
      const events = new RunEvents();
      const seen: RunEvent[] = [];
      events.on((e) => seen.push(e));
      const stop = new AbortController();
      const store = new RunStore(events, { intervalMs: 0 });
      let ready!: () => void;
      const listening = new Promise<void>((resolve) => (ready = resolve));
      const ui = render(<Dashboard store={store} onStop={() => stop.abort()} signal={stop.signal} onReady={ready} columns={80} rows={24} />);
      await listening;
      // The operator presses q once the first step is on screen.
      events.on((e) => {
        if (e.kind === 'step' && e.step === 1) ui.stdin.write('q');
      });
      const summary = await runLocal({ configPath: files.config, runDir: path.join(files.dir, 'run'), events, signal: stop.signal });
      store.flush();
      assert.equal(summary.status, 'stopped');
      assert.equal(summary.steps, 1, 'stopped after the step in progress');
      assert.ok(summary.checkpoints.latest && existsSync(path.join(summary.checkpoints.latest, 'lora.safetensors')));
      const ckpt = seen.find((e) => e.kind === 'checkpoint');
      assert.ok(ckpt?.kind === 'checkpoint' && ckpt.step === 1);
      assert.deepEqual(seen[seen.length - 1], { kind: 'run_ended', status: 'stopped' });
      await new Promise<void>((resolve) => setImmediate(resolve));
      assert.match(ui.lastFrame() ?? '', /run stopped/);
      ui.unmount();
      store.close();
    } finally {
      files.cleanup();
    }
  });
});
