// SerialQueue: one job at a time in arrival order, a bounded wait list (503 past it), a failing job
// does not stop the ones behind it, close() refuses new and waiting jobs.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HttpError } from '../../../tools/serve/http_error.js';
import { SerialQueue } from '../../../tools/serve/serial_queue.js';

/** A job that runs until released, recording when it starts and ends. */
function gate(log: string[], name: string): { job: () => Promise<string>; release: () => void } {
  let release: () => void = () => undefined;
  const done = new Promise<void>((r) => (release = r));
  return {
    job: async () => {
      log.push(`start ${name}`);
      await done;
      log.push(`end ${name}`);
      return name;
    },
    release: () => release(),
  };
}

describe('SerialQueue', () => {
  it('runs jobs one at a time in arrival order and refuses past maxWaiting with 503 busy', async () => {
    const q = new SerialQueue(2);
    const log: string[] = [];
    const [a, b, c] = ['a', 'b', 'c'].map((n) => gate(log, n)) as [ReturnType<typeof gate>, ReturnType<typeof gate>, ReturnType<typeof gate>];
    const pa = q.run(a.job);
    const pb = q.run(b.job);
    const pc = q.run(c.job);
    await assert.rejects(q.run(async () => 'd'), (e: unknown) => e instanceof HttpError && e.status === 503 && e.code === 'busy' && e.headers['Retry-After'] === '2');
    assert.equal(q.size, 3);
    c.release();
    b.release();
    a.release();
    assert.deepEqual(await Promise.all([pa, pb, pc]), ['a', 'b', 'c']);
    assert.deepEqual(log, ['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
    assert.equal(q.size, 0);
  });

  it('a failing job rejects its own caller only', async () => {
    const q = new SerialQueue(4);
    const bad = q.run(async () => {
      throw new Error('boom');
    });
    const good = q.run(async () => 42);
    await assert.rejects(bad, /boom/);
    assert.equal(await good, 42);
  });

  it('close() waits for the running job and refuses the waiting and new ones', async () => {
    const q = new SerialQueue(4);
    const log: string[] = [];
    const a = gate(log, 'a');
    const running = q.run(a.job);
    const waiting = q.run(async () => 'never');
    const closed = q.close();
    await assert.rejects(q.run(async () => 'new'), (e: unknown) => e instanceof HttpError && e.code === 'closing');
    a.release();
    assert.equal(await running, 'a');
    await assert.rejects(waiting, (e: unknown) => e instanceof HttpError && e.code === 'closing');
    await closed;
  });
});
