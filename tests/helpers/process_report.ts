// Preloaded (node --import) into a child process under test: at exit it writes, to the file named by
// SAMLORA_PROCESS_REPORT, the process's peak resident memory and the names of Object.prototype's
// properties that were added or replaced while it ran (prototype pollution).

import { writeFileSync } from 'node:fs';

export interface ProcessReport {
  maxRssBytes: number;
  prototypeChanged: string[];
}

const before = new Map<string, unknown>(
  Object.getOwnPropertyNames(Object.prototype).map((k) => [k, Object.getOwnPropertyDescriptor(Object.prototype, k)?.value]),
);
const reportFile = process.env.SAMLORA_PROCESS_REPORT;

if (reportFile) {
  process.on('exit', () => {
    const changed = Object.getOwnPropertyNames(Object.prototype).filter(
      (k) => !before.has(k) || Object.getOwnPropertyDescriptor(Object.prototype, k)?.value !== before.get(k),
    );
    const report: ProcessReport = { maxRssBytes: process.resourceUsage().maxRSS * 1024, prototypeChanged: changed };
    writeFileSync(reportFile, JSON.stringify(report));
  });
}
