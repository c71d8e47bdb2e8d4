// writeAll: waits for 'drain' when the stream is full, and gives up when its signal aborts (a
// cancelled call never drains).

import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { test } from 'node:test';
import { writeAll } from '../../shared/wire/stream_io.js';

/** A stream that takes `room` messages, then reports itself full until drained. */
class FullStream extends EventEmitter {
  written: number[] = [];
  constructor(private room: number) {
    super();
  }
  write(m: number): boolean {
    this.written.push(m);
    return --this.room > 0;
  }
}

test('writeAll goes on after a drain', async () => {
  const s = new FullStream(1);
  const done = writeAll(s, [1, 2, 3]);
  assert.deepEqual(s.written, [1]);
  // Full from the first write on: each write waits for its own drain.
  for (const n of [2, 3, 3]) {
    s.emit('drain');
    await new Promise<void>((resolve) => setImmediate(resolve));
    assert.equal(s.written.length, n);
  }
  await done;
  assert.deepEqual(s.written, [1, 2, 3]);
});

test('writeAll on a stream that never drains rejects with the reason once the signal aborts, and leaves no listener', async () => {
  const s = new FullStream(1);
  const ac = new AbortController();
  const done = writeAll(s, [1, 2, 3], ac.signal);
  assert.equal(s.listenerCount('drain'), 1);
  ac.abort(new Error('worker w-1: evicted'));
  await assert.rejects(done, /worker w-1: evicted/);
  assert.equal(s.listenerCount('drain'), 0);
  assert.deepEqual(s.written, [1]);
});

test('writeAll with an aborted signal writes nothing', async () => {
  const s = new FullStream(5);
  await assert.rejects(writeAll(s, [1], AbortSignal.abort(new Error('gone'))), /gone/);
  assert.deepEqual(s.written, []);
});
