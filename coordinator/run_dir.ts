// The run directory: resolved config, a human-readable log, checkpoints, and summary.json, which is
// rewritten atomically whenever the run's state changes so it is current even mid-run.

import { appendFileSync, mkdirSync } from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../shared/fs/atomic.js';

export class RunDir {
  readonly checkpoints: string;
  readonly summaryFile: string;
  readonly logFile: string;

  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
    this.checkpoints = path.join(dir, 'checkpoints');
    this.summaryFile = path.join(dir, 'summary.json');
    this.logFile = path.join(dir, 'train.log');
  }

  /** A fresh run id: UTC timestamp, sortable. */
  static newId(now = new Date()): string {
    return now.toISOString().replace(/[-:]/g, '').replace(/\..*/, '').replace('T', '-');
  }

  writeConfig(yaml: string): void {
    writeFileAtomic(path.join(this.dir, 'config.yaml'), yaml);
  }

  writeSummary(summary: object): void {
    writeFileAtomic(this.summaryFile, `${JSON.stringify(summary, null, 2)}\n`);
  }

  log(line: string): void {
    appendFileSync(this.logFile, `${new Date().toISOString()} ${line}\n`);
  }
}
