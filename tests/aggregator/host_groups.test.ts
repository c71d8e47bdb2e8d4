// Host groups over gRPC on loopback, in one process: 2 groups x 2 workers behind 2 aggregators train
// to the same weights, bit for bit, as the same 4 workers connected directly with the same groups
// (the coordinator adds each group's gradients first either way), while the coordinator receives
// half the gradient bytes (one partial per group). An aggregator that stops mid-run, or a real
// `sam-lora aggregator` process killed with SIGKILL, sends its workers to the coordinator directly,
// and the run completes with every sample trained once; an aggregator started again on the same
// address gets its workers back within the run.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { runDistributed } from '../../coordinator/distributed_run.js';
import { RunEvents } from '../../coordinator/run_events.js';
import type { Summary } from '../../coordinator/trainer.js';
import { runAggregator } from '../../aggregator/run_aggregator.js';
import { loadLora } from '../../shared/sam/lora_io.js';
import { SharedToken } from '../../shared/wire/security.js';
import { runRemoteWorker } from '../../worker/grpc_worker.js';
import { ModelCompute } from '../../worker/model_compute.js';
import { gatedDirectSteps } from './gated_compute.js';
import { tinyRunConfig } from '../distributed/helpers.js';
import { CLI } from '../distributed/worker_process.js';
import { generateCerts, hasOpenssl } from '../wire/helpers.js';
import { OPENSSL, skipWithout } from '../helpers/required_tool.js';
import { TOKEN_ENV_VAR } from '../../shared/wire/security.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'samlora-groups-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const TOKEN = 'groups-token-0123456789abcdef';
const token = SharedToken.fromEnv('T', { T: TOKEN });
const children: ChildProcess[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

interface Outcome {
  summary: Summary;
  /** Gradient bytes the coordinator received, per step event. */
  bytesInPerStep: number[];
  logs: string[];
}

/**
 * A run with `groups` (each a list of worker counts by group name); `aggregated`: through one
 * aggregator per group, else every worker direct with its group's label. `onStep` sees each step.
 */
async function run(name: string, config: string, groups: Record<string, number>, aggregated: boolean, onStep?: (step: number, stopAggregator: (group: string) => void) => void): Promise<Outcome> {
  const stop = new AbortController();
  const aggregatorStops = new Map<string, AbortController>();
  const running: Promise<void>[] = [];
  const events = new RunEvents();
  const bytesInPerStep: number[] = [];
  const logs: string[] = [];
  let inStep = 0;
  events.on((e) => {
    if (e.kind === 'tensor_bytes' && e.direction === 'received') inStep += e.bytes;
    if (e.kind === 'step') {
      bytesInPerStep.push(inStep);
      inStep = 0;
      onStep?.(e.step, (g) => aggregatorStops.get(g)?.abort());
    }
  });
  const total = Object.values(groups).reduce((a, b) => a + b, 0);
  const worker = (address: string, group: string, aggregator?: string): void => {
    running.push(runRemoteWorker({ address, group, ...(aggregator ? { aggregator } : {}), token, runtime: { intraOpThreads: 1 }, signal: stop.signal, maxAttempts: 3, log: (l) => logs.push(`${group}: ${l}`) }));
  };
  try {
    const summary = await runDistributed({
      configPath: config,
      runDir: path.join(tmp, name),
      listen: '127.0.0.1:0',
      // The aggregators' workers count (GroupSize): the same minimum as direct.
      minWorkers: total,
      deadlineMs: 60_000,
      // No grace for returning workers after the end: every worker here is there at the end.
      completionGraceMs: 0,
      token,
      events,
      onListening: (address) => {
        for (const [group, n] of Object.entries(groups)) {
          if (!aggregated) {
            for (let i = 0; i < n; i++) worker(address, group);
            continue;
          }
          const own = new AbortController();
          aggregatorStops.set(group, own);
          running.push(
            runAggregator({
              coordinator: address,
              listen: '127.0.0.1:0',
              group,
              token,
              signal: AbortSignal.any([stop.signal, own.signal]),
              maxAttempts: 3,
              log: (l) => logs.push(`aggregator ${group}: ${l}`),
              onListening: (local) => {
                for (let i = 0; i < n; i++) worker(address, group, local);
              },
            }),
          );
        }
      },
    });
    return { summary, bytesInPerStep, logs };
  } finally {
    stop.abort();
    await Promise.allSettled(running);
  }
}

/** A promise and what resolves it (Node 20 has no Promise.withResolvers). */
function latch(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

async function finalWeights(s: Summary): Promise<Map<string, Float32Array>> {
  const l = await loadLora(path.join(s.checkpoints.final!, 'lora.safetensors'));
  return new Map([...l.tensors].map(([k, t]) => [k, t.data]));
}

describe('host groups', () => {
  it('2 groups x 2 workers through aggregators: the same weights as direct, half the bytes in', { timeout: 240_000 }, async () => {
    const config = await tinyRunConfig(path.join(tmp, 'eq'), { train: 8, batch: 4, epochs: 1 });
    const direct = await run('direct', config, { g0: 2, g1: 2 }, false);
    const grouped = await run('grouped', config, { g0: 2, g1: 2 }, true);
    for (const o of [direct, grouped]) {
      assert.equal(o.summary.status, 'completed', o.logs.join('\n'));
      assert.equal(o.summary.evictions, 0, o.logs.join('\n'));
      assert.deepEqual(o.summary.epochs.map((e) => [e.samples_trained, e.duplicates, e.missing]), [[8, 0, 0]]);
    }
    assert.deepEqual(grouped.summary.losses, direct.summary.losses);
    const a = await finalWeights(direct.summary);
    const b = await finalWeights(grouped.summary);
    assert.deepEqual([...b.keys()], [...a.keys()]);
    for (const [k, v] of a) assert.ok(Buffer.from(v.buffer, v.byteOffset, v.byteLength).equals(Buffer.from(b.get(k)!.buffer, b.get(k)!.byteOffset, b.get(k)!.byteLength)), `${k} differs`);
    // One partial per group instead of one gradient per worker.
    assert.equal(direct.bytesInPerStep.length, 2);
    assert.ok(direct.bytesInPerStep.every((x) => x > 0));
    assert.deepEqual(grouped.bytesInPerStep, direct.bytesInPerStep.map((x) => x / 2));
  });

  it('an aggregator that stops mid-run sends its workers to the coordinator; every sample is trained once', { timeout: 240_000 }, async () => {
    const config = await tinyRunConfig(path.join(tmp, 'demote'), { train: 8, batch: 4, epochs: 1 });
    let stopped = false;
    const o = await run('demote', config, { g0: 2 }, true, (step, stopAggregator) => {
      if (step === 1 && !stopped) {
        stopped = true;
        stopAggregator('g0');
      }
    });
    assert.equal(o.summary.status, 'completed', o.logs.join('\n'));
    assert.deepEqual(o.summary.epochs.map((e) => [e.samples_trained, e.duplicates, e.missing]), [[8, 0, 0]]);
    assert.equal(o.logs.filter((l) => /connecting to the coordinator .* directly until the aggregator serves again/.test(l)).length, 2, o.logs.join('\n'));
  });

  it('an aggregator started again on the same address gets its demoted workers back within the run; every sample is trained once', { timeout: 240_000 }, async () => {
    const config = await tinyRunConfig(path.join(tmp, 'return'), { train: 16, batch: 4, epochs: 1 });
    const stop = new AbortController();
    const firstStop = new AbortController();
    const logs: string[] = [];
    const running: Promise<void>[] = [];
    let first: Promise<void> | undefined;
    let local = '';
    // Each worker's direct steps wait until it decided to return (so the run outlasts its direct
    // stint); the aggregator starts again once both workers went direct and the first one stopped.
    const decided = [0, 1].map(() => latch());
    const demoted = [0, 1].map(() => latch());
    const aggregator = (address: string, listen: string, signal: AbortSignal, onListening?: (local: string) => void): Promise<void> => {
      const p = runAggregator({ coordinator: address, listen, group: 'g0', token, signal, maxAttempts: 3, log: (l) => logs.push(`aggregator: ${l}`), ...(onListening ? { onListening } : {}) });
      running.push(p);
      return p;
    };
    const events = new RunEvents();
    events.on((e) => {
      if (e.kind === 'step' && e.step === 1) firstStop.abort();
    });
    try {
      const summary = await runDistributed({
        configPath: config,
        runDir: path.join(tmp, 'return', 'run'),
        listen: '127.0.0.1:0',
        minWorkers: 2,
        deadlineMs: 60_000,
        completionGraceMs: 0,
        token,
        events,
        onListening: (address) => {
          first = aggregator(address, '127.0.0.1:0', AbortSignal.any([stop.signal, firstStop.signal]), (at) => {
            local = at;
            for (const i of [0, 1]) {
              const log = (l: string): void => {
                logs.push(`w${i}: ${l}`);
                if (/directly until the aggregator serves again/.test(l)) demoted[i]!.resolve();
                if (/serves again: leaving the coordinator/.test(l)) decided[i]!.resolve();
              };
              const compute = gatedDirectSteps(new ModelCompute({ intraOpThreads: 1 }), at, () => decided[i]!.promise);
              running.push(runRemoteWorker({ address, aggregator: at, group: 'g0', token, runtime: { intraOpThreads: 1 }, compute, aggregatorProbeMs: 50, signal: stop.signal, maxAttempts: 3, log }));
            }
          });
          void Promise.all([...demoted.map((d) => d.promise), first]).then(() => aggregator(address, local, stop.signal));
        },
      });
      const text = logs.join('\n');
      assert.equal(summary.status, 'completed', text);
      assert.deepEqual(summary.epochs.map((e) => [e.samples_trained, e.duplicates, e.missing]), [[16, 0, 0]], text);
      for (const i of [0, 1]) {
        const mine = logs.filter((l) => l.startsWith(`w${i}: `));
        assert.equal(mine.filter((l) => /is stopping; connecting to the coordinator .* directly until the aggregator serves again/.test(l)).length, 1, text);
        const back = mine.findIndex((l) => /left the coordinator .*: connecting through the aggregator .* again/.test(l));
        assert.ok(back >= 0, `w${i} came back:\n${text}`);
        assert.ok(mine.slice(back).some((l) => /trained step/.test(l)), `w${i} trained through the aggregator after coming back:\n${text}`);
      }
      // Both workers joined each aggregator: the first at the start, the second on their return.
      assert.equal(logs.filter((l) => /^aggregator: group g0: worker \S+ joined/.test(l)).length, 4, text);
    } finally {
      stop.abort();
      await Promise.allSettled(running);
    }
  });

  it('a killed aggregator process (SIGKILL) demotes its workers within the run; every sample is trained once', { timeout: 240_000 }, async () => {
    const config = await tinyRunConfig(path.join(tmp, 'kill'), { train: 8, batch: 4, epochs: 1 });
    const stop = new AbortController();
    const logs: string[] = [];
    const workers: Promise<void>[] = [];
    let agg: ChildProcess | undefined;
    const events = new RunEvents();
    events.on((e) => {
      if (e.kind === 'step' && e.step === 1) agg?.kill('SIGKILL');
    });
    try {
      const summary = await runDistributed({
        configPath: config,
        runDir: path.join(tmp, 'kill', 'run'),
        listen: '127.0.0.1:0',
        minWorkers: 1,
        deadlineMs: 60_000,
        completionGraceMs: 0,
        token,
        events,
        onListening: (address) => {
          agg = spawn(process.execPath, [CLI, 'aggregator', '--coordinator', address, '--listen', '127.0.0.1:0', '--group', 'g0', '--connect-attempts', '3'], {
            env: { ...process.env, [TOKEN_ENV_VAR]: TOKEN },
            stdio: ['ignore', 'ignore', 'pipe'],
          });
          children.push(agg);
          let err = '';
          agg.stderr!.on('data', (d: Buffer) => {
            const before = err;
            err += d.toString();
            const m = /listening at (\S+)/.exec(err);
            if (m && !/listening at/.test(before)) {
              for (let i = 0; i < 2; i++) {
                workers.push(runRemoteWorker({ address, aggregator: m[1]!, group: 'g0', token, runtime: { intraOpThreads: 1 }, signal: stop.signal, maxAttempts: 3, log: (l) => logs.push(l) }));
              }
            }
          });
        },
      });
      assert.equal(summary.status, 'completed', logs.join('\n'));
      assert.equal(agg!.signalCode, 'SIGKILL', 'the aggregator was killed mid-run');
      assert.deepEqual(summary.epochs.map((e) => [e.samples_trained, e.duplicates, e.missing]), [[8, 0, 0]]);
      assert.equal(logs.filter((l) => /lost the aggregator .*connecting to the coordinator .* directly until the aggregator serves again/.test(l)).length, 2, logs.join('\n'));
    } finally {
      stop.abort();
      await Promise.allSettled(workers);
    }
  });

  it('runs with TLS and the token on both links (coordinator-aggregator, aggregator-workers)', { timeout: 240_000, skip: skipWithout(hasOpenssl(), OPENSSL) }, async () => {
    const certs = generateCerts(mkdtempSync(path.join(tmp, 'certs-')));
    const config = await tinyRunConfig(path.join(tmp, 'tls'), { train: 4, batch: 2, epochs: 1 });
    const stop = new AbortController();
    const running: Promise<void>[] = [];
    const logs: string[] = [];
    const tls = { mode: 'tls' as const, caFile: certs.caCert };
    const serve = { mode: 'tls' as const, certFile: certs.serverCert, keyFile: certs.serverKey };
    try {
      const summary = await runDistributed({
        configPath: config,
        runDir: path.join(tmp, 'tls', 'run'),
        listen: '127.0.0.1:0',
        minWorkers: 1,
        deadlineMs: 60_000,
        completionGraceMs: 0,
        token,
        security: serve,
        onListening: (address) => {
          running.push(
            runAggregator({
              coordinator: address,
              listen: '127.0.0.1:0',
              group: 'g0',
              token,
              upstreamSecurity: tls,
              serverSecurity: serve,
              signal: stop.signal,
              maxAttempts: 3,
              log: (l) => logs.push(`aggregator: ${l}`),
              onListening: (local) => {
                for (let i = 0; i < 2; i++) running.push(runRemoteWorker({ address, aggregator: local, group: 'g0', token, security: tls, runtime: { intraOpThreads: 1 }, signal: stop.signal, maxAttempts: 3, log: (l) => logs.push(l) }));
              },
            }),
          );
        },
      });
      assert.equal(summary.status, 'completed', logs.join('\n'));
      assert.equal(summary.evictions, 0, logs.join('\n'));
      assert.equal(logs.filter((l) => /group g0: worker \S+ joined/.test(l)).length, 2, 'both workers went through the aggregator');
      assert.equal(logs.filter((l) => /directly until the aggregator serves again/.test(l)).length, 0, logs.join('\n'));
    } finally {
      stop.abort();
      await Promise.allSettled(running);
    }
  });

  it('a worker whose aggregator cannot be reached while the coordinator serves goes to the coordinator after 3 tries', { timeout: 120_000 }, async () => {
    const config = await tinyRunConfig(path.join(tmp, 'unreachable'), { train: 4, batch: 2, epochs: 1 });
    // A port nobody listens on: bound, then closed.
    const closed = await new Promise<number>((resolve) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const port = (srv.address() as AddressInfo).port;
        srv.close(() => resolve(port));
      });
    });
    const stop = new AbortController();
    const logs: string[] = [];
    let worker: Promise<void> | undefined;
    try {
      const summary = await runDistributed({
        configPath: config,
        runDir: path.join(tmp, 'unreachable', 'run'),
        listen: '127.0.0.1:0',
        minWorkers: 1,
        deadlineMs: 60_000,
        completionGraceMs: 0,
        token,
        onListening: (address) => {
          // maxAttempts 1: the aggregator's tries do not count against it (the coordinator serves).
          // No grace: the test needs not wait for an aggregator's backoff.
          worker = runRemoteWorker({ address, aggregator: `127.0.0.1:${closed}`, aggregatorGraceMs: 0, token, runtime: { intraOpThreads: 1 }, signal: stop.signal, maxAttempts: 1, log: (l) => logs.push(l) });
        },
      });
      assert.equal(summary.status, 'completed', logs.join('\n'));
      assert.equal(logs.filter((l) => /connection to the aggregator .* failed/.test(l)).length, 2, logs.join('\n'));
      assert.equal(logs.filter((l) => /failed 3 times .*directly until the aggregator serves again/.test(l)).length, 1, logs.join('\n'));
    } finally {
      stop.abort();
      await worker?.catch(() => undefined);
    }
  });
});
