// A real tiny training run's event stream, recorded with the wall-clock time of each event: what the
// dashboard, the progress records and the logs are tested on (real coordinator state, not mocks).
// Recorded once per test process (a few seconds) and shared.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { runLocal } from '../../launcher/in_process_run.js';
import { type RunEvent, RunEvents } from '../../coordinator/run_events.js';
import type { Summary } from '../../coordinator/trainer.js';
import { writeDemoDataset } from '../../shared/data/demo_data.js';
import { tinyConfigYaml } from './tiny_config.js';

export interface RecordedEvent {
  at: number;
  event: RunEvent;
}

export interface RecordedRun {
  events: RecordedEvent[];
  summary: Summary;
}

/** A tiny data set and config in a fresh temporary directory (removed by `cleanup`). */
export async function tinyRunFiles(o: { epochs: number; train?: number }): Promise<{ dir: string; config: string; cleanup: () => void }> {
  const dir = mkdtempSync(path.join(tmpdir(), 'samlora-dash-'));
  const demo = path.join(dir, 'demo');
  await writeDemoDataset(demo, { seed: 2, train: o.train ?? 5, test: 2, size: 80 });
  const config = path.join(dir, 'c.yaml');
  writeFileSync(config, tinyConfigYaml({ train: path.join(demo, 'train'), test: path.join(demo, 'test'), checkpointDir: dir, epochs: o.epochs }));
  return { dir, config, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

let recorded: Promise<RecordedRun> | undefined;

/** Two in-process workers, 2 epochs of 3 steps, evaluations and checkpoints. */
export function recordedTinyRun(): Promise<RecordedRun> {
  recorded ??= (async () => {
    const files = await tinyRunFiles({ epochs: 2 });
    try {
      const events = new RunEvents();
      const seen: RecordedEvent[] = [];
      events.on((event) => seen.push({ at: Date.now(), event }));
      const summary = await runLocal({ configPath: files.config, runDir: path.join(files.dir, 'run'), events, workers: 2 });
      return { events: seen, summary };
    } finally {
      files.cleanup();
    }
  })();
  return recorded;
}
