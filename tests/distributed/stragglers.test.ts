// Stragglers between real processes (issue 15, item 7): a worker frozen (SIGSTOP) while its share is
// out has the share copied to the idle worker, whose answer counts; thawed, it answers late and that
// answer is ignored (the step was done). Frozen for good, it is evicted by its share's deadline,
// derived from its observed pace, well before its heartbeats would have evicted it; thawed, it
// rejoins. Every sample is trained once per epoch.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { runDistributed } from '../../coordinator/distributed_run.js';
import { SharedToken, TOKEN_ENV_VAR } from '../../shared/wire/security.js';
import { tinyRunConfig } from './helpers.js';
import { WorkerProcess, within } from './worker_process.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'samlora-stragglers-'));
const env = { ...process.env, [TOKEN_ENV_VAR]: 'straggler-token-0123456789abcdef' };
const workers: WorkerProcess[] = [];
after(() => {
  for (const w of workers) w.kill();
  rmSync(tmp, { recursive: true, force: true });
});

/** The id the coordinator gave this worker process in its (latest) session. */
function idOf(w: WorkerProcess): string {
  const joined = w.messages.filter((m) => /^joined run /.test(m)).at(-1);
  return /as (\S+)$/.exec(joined ?? '')?.[1] ?? '?';
}

describe('stragglers between processes', () => {
  it("a frozen worker's share is copied and its late answer ignored; frozen for good, its pace-derived deadline evicts it before its heartbeats do", async () => {
    const config = await tinyRunConfig(tmp, { train: 16, batch: 2, epochs: 1 });
    const lines: string[] = [];
    let phase: 'before' | 'a-frozen' | 'a-thawed' | 'b-frozen' | 'b-thawed' = 'before';
    let pa: WorkerProcess | undefined;
    let pb: WorkerProcess | undefined;
    let copiedStep = -1;
    let bFrozenAt = 0;
    let bEvictedAfterMs = 0;
    const summary = await within(
      180_000,
      'the run',
      runDistributed({
        configPath: config,
        runDir: path.join(tmp, 'run'),
        listen: '127.0.0.1:0',
        // Both needed: while one computes an abandoned copy (or is gone), the step waits for it, so
        // the deadline, not the end of the run, decides what happens to a frozen worker.
        minWorkers: 2,
        token: SharedToken.fromEnv(TOKEN_ENV_VAR, env),
        // Heartbeats would evict a silent worker after 5 x 1.5 s; its share's deadline comes first.
        heartbeatMs: 1500,
        stepDeadline: { floorMs: 4000 },
        evictionCooldownMs: 300,
        completionGraceMs: 0,
        onListening: (address) => {
          pa = new WorkerProcess(address, env, ['--log-level', 'debug']);
          pb = new WorkerProcess(address, env, ['--log-level', 'debug']);
          workers.push(pa, pb);
        },
        progress: (line) => {
          lines.push(line);
          // After step 3 (both workers' paces measured): freeze a while its next share is out.
          if (phase === 'before' && / step 3\//.test(line)) {
            phase = 'a-frozen';
            pa!.kill('SIGSTOP');
          }
          const copied = /^step (\d+): worker (\S+)'s copy of worker (\S+)'s share answered first/.exec(line);
          if (phase === 'a-frozen' && copied && copied[3] === idOf(pa!)) {
            copiedStep = Number(copied[1]);
            phase = 'a-thawed';
            pa!.kill('SIGCONT');
          }
          // a evicted while still frozen (no copy came first: a machine so loaded that b's measured pace
          // put the copy past a's deadline): thaw it, or the run would wait for it (min_workers 2) until
          // the test's bound; the assertions below then say what happened.
          if (phase === 'a-frozen' && new RegExp(`^worker ${idOf(pa!)} evicted`).test(line)) pa!.kill('SIGCONT');
          // After step 6: freeze b for good, until the coordinator evicts it.
          if (phase === 'a-thawed' && / step 6\//.test(line)) {
            phase = 'b-frozen';
            bFrozenAt = performance.now();
            pb!.kill('SIGSTOP');
          }
          if (phase === 'b-frozen' && new RegExp(`^worker ${idOf(pb!)} evicted`).test(line)) {
            bEvictedAfterMs = performance.now() - bFrozenAt;
            phase = 'b-thawed';
            pb!.kill('SIGCONT');
          }
        },
      }),
    );
    const log = lines.join('\n');
    assert.equal(summary.status, 'completed', log);
    assert.equal(phase, 'b-thawed', log);
    assert.deepEqual(
      summary.epochs.map((e) => [e.samples_trained, e.duplicates, e.missing]),
      [[16, 0, 0]],
      log,
    );
    // Only b was evicted, for its deadline (about 4 s), not for its heartbeats (7.5 s).
    assert.equal(summary.evictions, 1, log);
    assert.match(log, /evicted: missed its deadline: no answer for \d+ sample\(s\) within [\d.]+ s/);
    assert.doesNotMatch(log, /heartbeats stopped/);
    assert.ok(bEvictedAfterMs < 7000, `b evicted ${(bEvictedAfterMs / 1000).toFixed(1)} s after it froze`);
    // a, thawed, computed its share of the copied step after all: both processes trained its samples
    // in that step (the same step: the epoch's account is unchanged), and a was not evicted.
    const trained = (w: WorkerProcess): string[] => w.messages.filter((m) => m.startsWith(`trained step ${copiedStep} `)).flatMap((m) => m.split(': ')[1]!.split(' '));
    const fromA = trained(pa!);
    assert.ok(fromA.length > 0, pa!.messages.join('\n'));
    for (const id of fromA) assert.ok(trained(pb!).includes(id), `sample ${id} of step ${copiedStep} computed by both workers`);
    // b came back after its eviction, and both leave with 0 now that the run is complete.
    assert.equal(pb!.count(/^joined run /), 2, pb!.messages.join('\n'));
    assert.equal(await within(20_000, 'worker a exits', pa!.exit), 0);
    assert.equal(await within(20_000, 'worker b exits', pb!.exit), 0);
  });
});
