// One metrics port everywhere: 9464 (the conventional port of an application's Prometheus exporter),
// not 9090, which is the Prometheus server's own and would clash with it on a shared host. Checked in
// the deployment files, README and the commands' --help.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deployFiles, read } from './deploy_files.js';

const METRICS_PORT = '9464';
const TEXTS = [...deployFiles().filter((rel) => !/\.(png|jpg|gz)$/.test(rel)), 'README.md', 'bin/train_command.ts', 'bin/coordinator_command.ts', 'bin/worker_command.ts'];

describe('the metrics port', () => {
  it('is never 9090 (the Prometheus server\'s own port)', () => {
    const found = TEXTS.flatMap((rel) => read(rel).split('\n').flatMap((l, i) => (/(?<![\dx])9090(?!\d)/.test(l) && !/Prometheus server's own/.test(l) ? [`${rel}:${i + 1}: ${l.trim()}`] : [])));
    assert.deepEqual(found, []);
  });

  it(`is ${METRICS_PORT} wherever --metrics names a port`, () => {
    const ports: string[] = [];
    for (const rel of TEXTS) {
      // --metrics HOST:PORT, --metrics=HOST:PORT, and YAML lists ("- --metrics" then "- HOST:PORT").
      for (const m of read(rel).matchAll(/--metrics(?:[\s=]+-?\s*)["']?(?:[\w.-]+|\[[\w:]+\]):(\d+)/g)) ports.push(`${rel}: ${m[1]}`);
    }
    assert.ok(ports.length >= 3, `--metrics examples found: ${ports.join(', ')}`);
    assert.deepEqual(ports.filter((p) => !p.endsWith(`: ${METRICS_PORT}`) && !p.endsWith(': 0')), []);
    // The commands' --help examples.
    for (const rel of ['bin/train_command.ts', 'bin/coordinator_command.ts']) assert.match(read(rel), new RegExp(`\\d:${METRICS_PORT}\\b`), rel);
  });
});
