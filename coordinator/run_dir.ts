// The run directory: resolved config, a human-readable log, checkpoints, and summary.json, which is
// rewritten atomically whenever the run's state changes so it is current even mid-run.

import { appendFileSync, closeSync, fsyncSync, mkdirSync, openSync, renameSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';

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
    this.atomic(path.join(this.dir, 'config.yaml'), yaml);
  }

  writeSummary(summary: object): void {
    this.atomic(this.summaryFile, `${JSON.stringify(summary, null, 2)}\n`);
  }

  log(line: string): void {
    appendFileSync(this.logFile, `${new Date().toISOString()} ${line}\n`);
  }

  private atomic(file: string, text: string): void {
    const tmp = `${file}.tmp-${process.pid}`;
    const fd = openSync(tmp, 'w');
    try {
      writeFileSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  }
}
