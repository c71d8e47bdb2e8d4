// The host-group flags are usage errors (exit 2, naming the flag) when they cannot mean anything:
// train --groups without workers or with more groups than workers, a worker's --group that is not a
// group name or an --aggregator that is not HOST:PORT, an aggregator without --listen.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseWorkerArgs } from '../../bin/worker_command.js';
import { runCli } from '../helpers/run_cli.js';

describe('host group flags', () => {
  it('train --groups needs workers, and no more groups than workers', async () => {
    for (const [args, re] of [
      [['train', '--groups', '2'], /--groups needs --workers K or --gpus/],
      [['train', '--workers', '2', '--groups', '3'], /--groups must be a whole number from 1 to the workers \(2\); got 3/],
      [['train', '--workers', '2', '--groups', '0'], /--groups must be a whole number/],
    ] as const) {
      const r = await runCli(args, { timeoutMs: 30_000 });
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, re);
    }
  });

  it('worker --group and --aggregator are checked; the aggregator needs --listen', async () => {
    const base = ['--coordinator', 'head:50051', '--device', 'cpu'];
    assert.deepEqual(parseWorkerArgs([...base, '--group', 'node-7', '--aggregator', '127.0.0.1:50052'], {}), {
      coordinator: { host: 'head', port: 50051 },
      device: { kind: 'cpu' },
      threads: 0,
      group: 'node-7',
      aggregator: { host: '127.0.0.1', port: 50052 },
    });
    assert.throws(() => parseWorkerArgs([...base, '--group', 'a b'], {}), /--group "a b": a group name is 1 to 64 letters/);
    assert.throws(() => parseWorkerArgs([...base, '--group', 'x'.repeat(65)], {}), /--group/);
    assert.throws(() => parseWorkerArgs([...base, '--aggregator', 'nohost'], {}), /--aggregator nohost: expected HOST:PORT/);
    const r = await runCli(['aggregator', '--coordinator', 'head:50051'], { timeoutMs: 30_000 });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /missing --listen HOST:PORT/);
  });
});
