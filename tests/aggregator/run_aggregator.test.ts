// An aggregator's membership over gRPC on loopback, with workers that compute nothing (no model):
// the coordinator counts the aggregator's workers for min_workers as they join and leave (GroupSize);
// workers started before the coordinator wait for it and then arrive through their aggregator, not
// directly; and an aggregator left idle across a coordinator restart is not refused when its first
// worker comes (it joins again for a fresh worker id). A worker demoted by its aggregator's stop
// returns to the aggregator started again on the same address.

import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { CoordinatorServer } from '../../coordinator/grpc/coordinator_server.js';
import { type PoolEvent, WorkerPool } from '../../coordinator/worker_pool.js';
import { runAggregator } from '../../aggregator/run_aggregator.js';
import type { Fingerprint } from '../../shared/contract/fingerprint.js';
import { runRemoteWorker } from '../../worker/grpc_worker.js';
import { freePort, within } from '../distributed/worker_process.js';
import { idleCompute } from './idle_compute.js';

const FINGERPRINT: Fingerprint = { variant: 'test', checkpoint_sha256: 'none', lora_layout_hash: 'layout' };
const stop = new AbortController();
const running: Promise<unknown>[] = [];
const servers: CoordinatorServer[] = [];
after(async () => {
  stop.abort();
  for (const s of servers) s.forceStop();
  await Promise.allSettled(running);
});

/** Log lines, and promises of lines to come. */
class Lines {
  readonly all: string[] = [];
  private readonly waiters: { done: () => boolean; resolve: () => void }[] = [];
  push(line: string): void {
    this.all.push(line);
    for (const w of this.waiters.filter((x) => x.done())) {
      this.waiters.splice(this.waiters.indexOf(w), 1);
      w.resolve();
    }
  }
  count(pattern: RegExp): number {
    return this.all.filter((l) => pattern.test(l)).length;
  }
  /** Resolves once `done` holds after a line came. */
  when(done: () => boolean): Promise<void> {
    return new Promise<void>((resolve) => this.waiters.push({ done, resolve }));
  }
  toString(): string {
    return this.all.join('\n');
  }
}

/** A coordinator without a training loop: its pool is what the tests look at. */
async function coordinator(listen: string, minWorkers: number): Promise<{ server: CoordinatorServer; pool: WorkerPool; next: (match: (e: PoolEvent) => boolean) => Promise<void> }> {
  const waiters: { match: (e: PoolEvent) => boolean; resolve: () => void }[] = [];
  const pool = new WorkerPool(minWorkers, (e) => {
    for (const w of waiters.filter((x) => x.match(e))) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
  });
  const server = await CoordinatorServer.start({ listen, pool, runId: 'groups', configYaml: '', fingerprint: FINGERPRINT, trainable: new Map(), heartbeatMs: 200 });
  servers.push(server);
  return { server, pool, next: (match) => new Promise<void>((resolve) => waiters.push({ match, resolve })) };
}

function aggregator(coordinatorAddress: string, listen: string, logs: Lines, onListening?: (address: string) => void, signal: AbortSignal = stop.signal): Promise<void> {
  const p = runAggregator({ coordinator: coordinatorAddress, listen, group: 'g', signal, log: (l) => logs.push(`aggregator: ${l}`), ...(onListening ? { onListening } : {}) });
  running.push(p);
  return p;
}

function worker(coordinatorAddress: string, aggregatorAddress: string, logs: Lines, name: string, signal: AbortSignal = stop.signal, aggregatorProbeMs?: number): void {
  running.push(
    runRemoteWorker({
      address: coordinatorAddress,
      aggregator: aggregatorAddress,
      group: 'g',
      runtime: {},
      compute: idleCompute(),
      signal,
      log: (l) => logs.push(`${name}: ${l}`),
      ...(aggregatorProbeMs !== undefined ? { aggregatorProbeMs } : {}),
    }),
  );
}

describe('aggregator membership', () => {
  it('the coordinator counts the workers behind the aggregator for min_workers, as they join and leave', { timeout: 30_000 }, async () => {
    const c = await coordinator('127.0.0.1:0', 3);
    const logs = new Lines();
    const leaving = new AbortController();
    const listening = new Promise<string>((resolve) => void aggregator(c.server.address, '127.0.0.1:0', logs, resolve));
    const local = await within(10_000, 'the aggregator listens', listening);
    worker(c.server.address, local, logs, 'w1', AbortSignal.any([stop.signal, leaving.signal]));
    worker(c.server.address, local, logs, 'w2');
    worker(c.server.address, local, logs, 'w3');
    const members = await within(15_000, 'min_workers 3 met by one aggregator', c.pool.ready());
    assert.equal(members.length, 1, 'one session: the aggregator');
    assert.equal(members[0]!.placement?.device, 'aggregator');
    assert.equal(c.pool.workers, 3, String(logs));
    const shrunk = c.next((e) => e.kind === 'resized' && e.workers === 2);
    leaving.abort();
    await within(10_000, 'the group size drops to 2', shrunk);
    assert.equal(c.pool.workers, 2);
    assert.equal(c.pool.size, 1);
    assert.equal(logs.count(/directly until the aggregator serves again/), 0, String(logs));
  });

  it('workers started before the coordinator wait for it and arrive through their aggregator', { timeout: 30_000 }, async () => {
    const [coordinatorPort, aggregatorPort] = [await freePort(), await freePort()];
    const address = `127.0.0.1:${coordinatorPort}`;
    const local = `127.0.0.1:${aggregatorPort}`;
    const logs = new Lines();
    void aggregator(address, local, logs);
    // Both workers have found neither their aggregator nor the coordinator twice: start the coordinator.
    const failures = (name: string): number => logs.count(new RegExp(`^${name}: connection to the aggregator .* \\(and the coordinator .*\\) failed`));
    const failedTwice = logs.when(() => failures('w1') >= 2 && failures('w2') >= 2);
    worker(address, local, logs, 'w1');
    worker(address, local, logs, 'w2');
    await within(15_000, 'both workers failed twice', failedTwice);
    const c = await coordinator(address, 2);
    const members = await within(20_000, 'both workers through the aggregator', c.pool.ready());
    assert.equal(members.length, 1, `one session, the aggregator's:\n${String(logs)}`);
    assert.equal(members[0]!.placement?.device, 'aggregator');
    assert.equal(c.pool.workers, 2);
    assert.equal(logs.count(/directly until the aggregator serves again/), 0, String(logs));
    assert.equal(logs.count(/aggregator: group g: worker \S+ joined/), 2, String(logs));
  });

  it('an aggregator idle across a coordinator restart joins again: its first worker is not sent direct', { timeout: 30_000 }, async () => {
    const address = `127.0.0.1:${await freePort()}`;
    const first = await coordinator(address, 1);
    const logs = new Lines();
    let refused: unknown;
    const listening = new Promise<string>((resolve) => void aggregator(address, '127.0.0.1:0', logs, resolve).catch((err: unknown) => (refused = err)));
    const local = await within(10_000, 'the aggregator joined the first coordinator', listening);
    // The restart: the new coordinator never issued the id the aggregator got from the first.
    first.server.forceStop();
    const second = await coordinator(address, 1);
    worker(address, local, logs, 'w1');
    const members = await within(15_000, 'the aggregator joins the second coordinator', second.pool.ready());
    assert.equal(refused, undefined, String(logs));
    assert.equal(members.length, 1);
    assert.equal(members[0]!.placement?.device, 'aggregator', `the worker came through the aggregator:\n${String(logs)}`);
    assert.equal(logs.count(/directly until the aggregator serves again/), 0, String(logs));
  });

  it('a worker demoted by its aggregator stopping returns to a new aggregator on the same address', { timeout: 30_000 }, async () => {
    const c = await coordinator('127.0.0.1:0', 1);
    const local = `127.0.0.1:${await freePort()}`;
    const logs = new Lines();
    const firstStop = new AbortController();
    const first = aggregator(c.server.address, local, logs, undefined, AbortSignal.any([stop.signal, firstStop.signal]));
    worker(c.server.address, local, logs, 'w1', stop.signal, 200);
    const [viaFirst] = await within(15_000, 'the worker through the first aggregator', c.pool.ready());
    assert.equal(viaFirst!.placement?.device, 'aggregator');

    const direct = c.next((e) => e.kind === 'joined' && e.device === 'cpu');
    firstStop.abort();
    await within(10_000, 'the first aggregator stops', first);
    await within(10_000, 'the worker joins the coordinator directly', direct);
    assert.equal(logs.count(/^w1: the aggregator .* is stopping; connecting to the coordinator .* directly until the aggregator serves again/), 1, String(logs));
    const [directSession] = c.pool.live();
    assert.equal(directSession?.placement?.device, 'cpu');

    // The aggregator comes back (a restarted pod): the worker leaves the coordinator and comes through it.
    const left = c.next((e) => e.kind === 'evicted' && e.id === directSession.id);
    const back = c.next((e) => e.kind === 'joined' && e.device === 'aggregator');
    void aggregator(c.server.address, local, logs);
    await within(15_000, 'the worker comes back through the new aggregator', Promise.all([left, back]));
    const members = c.pool.live();
    assert.equal(members.length, 1, String(logs));
    assert.equal(members[0]!.placement?.device, 'aggregator');
    assert.equal(c.pool.workers, 1, 'the aggregator carries the worker');
    assert.equal(logs.count(/^w1: the aggregator .* serves again: leaving the coordinator after the message in hand/), 1, String(logs));
    assert.equal(logs.count(/^w1: left the coordinator .*: connecting through the aggregator .* again/), 1, String(logs));
    assert.equal(logs.count(/directly until/), 1, `demoted once only:\n${String(logs)}`);
  });
});
