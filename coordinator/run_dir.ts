// The run directory: resolved config, a human-readable log, checkpoints, and summary.json, which is
// rewritten atomically whenever the run's state changes so it is current even mid-run.

import { appendFileSync, mkdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../shared/fs/atomic.js';

export class RunDir {
  readonly checkpoints: string;
  readonly summaryFile: string;
  readonly logFile: string;

  constructor(readonly dir: string) {
    mkdirSync(dir, { recursive: true });
    this.checkpoints = path.join(dir, 'checkpoints');
    this.summaryFile = RunDir.summaryFileOf(dir);
    this.logFile = path.join(dir, 'train.log');
  }

  private static summaryFileOf(dir: string): string {
    return path.join(dir, 'summary.json');
  }

  /** A run directory's summary.json, parsed, without creating the directory; undefined when there is none or it does not parse. */
  static readSummary(dir: string): unknown {
    try {
      return JSON.parse(readFileSync(RunDir.summaryFileOf(dir), 'utf8')) as unknown;
    } catch {
      return undefined;
    }
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
