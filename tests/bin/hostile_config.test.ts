// Hostile configurations through the CLI a user runs: prototype keys in a config file or --set, and a
// 50 MB config file, each refused with a clear error naming the file (and line and column), exit 1,
// in bounded time and memory, with Object.prototype untouched in the process that read them.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { runCli } from '../helpers/run_cli.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'samlora-hostile-config-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const TIMEOUT_MS = 60_000;
// A CLI process that reads a config and stops is well under this; the attacks took gigabytes.
const MAX_RSS = 512 * 1024 * 1024;

describe('sam-lora train with a hostile configuration', () => {
  it('refuses __proto__ in the config file with file, line and column', async () => {
    const file = path.join(tmp, 'evil.yaml');
    writeFileSync(file, 'model:\n  checkpoint: null\n  __proto__:\n    toString: 1\n    polluted: yes\ndata:\n  train: null\n');
    const run = await runCli(['train', '--config', file], { timeoutMs: TIMEOUT_MS, cwd: tmp });
    assert.equal(run.timedOut, false);
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, new RegExp(`${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:3:3: model\\.__proto__: "__proto__" is not allowed as a key`));
    assert.deepEqual(run.report?.prototypeChanged, []);
  });

  it('refuses constructor/prototype through --set keys and values', async () => {
    const run = await runCli(['train', '--set', 'constructor.prototype.polluted=1', '--set', 'train.augment={__proto__: {valueOf: 1}}'], {
      timeoutMs: TIMEOUT_MS,
      cwd: tmp,
    });
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, /command line: constructor\.prototype\.polluted: "constructor" is not allowed as a key/);
    assert.match(run.stderr, /command line: train\.augment: cannot parse the value .*"__proto__" is not allowed as a key/);
    assert.deepEqual(run.report?.prototypeChanged, []);
  });

  it('refuses a 50 MB config file by its size, in bounded memory', async () => {
    const file = path.join(tmp, 'huge.yaml');
    writeFileSync(file, 'model:\n  checkpoint: null\n');
    truncateSync(file, 50 * 1024 * 1024);
    const run = await runCli(['train', '--config', file], { timeoutMs: TIMEOUT_MS, cwd: tmp });
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, /huge\.yaml .*is 52428800 bytes, more than the 1048576 a configuration may have/s);
    assert.ok(run.report && run.report.maxRssBytes < MAX_RSS, `peak RSS ${run.report?.maxRssBytes}`);
  });
});
