// The local launcher reads its worker processes' JSON log lines back as the coordinator's messages.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import { forwardWorkerStderr } from '../../launcher/worker_stderr.js';

describe('worker stderr', () => {
  it('forwards each whole line: a record split across reads is one message, at its level', async () => {
    const stderr = new PassThrough();
    const got: [string, string][] = [];
    const lines = forwardWorkerStderr(stderr, 1, (line, level) => got.push([level, line]));
    stderr.write('{"level":30,"role":"worker","msg":"joined run r as ');
    stderr.write('h-1"}\n{"level":40,"msg":"connection failed; retrying"}\n');
    stderr.end('sam-lora worker: refused: wrong token\n');
    await once(lines, 'close');
    assert.deepEqual(got, [
      ['info', '[worker 1] joined run r as h-1'],
      ['warn', '[worker 1] connection failed; retrying'],
      ['warn', '[worker 1] refused: wrong token'],
    ]);
  });
});
