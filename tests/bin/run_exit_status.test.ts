// What a training command's exit status says, with real processes on a tiny run: SIGTERM stops
// `train` after the current step with a checkpoint and exits 143; `--auto-resume` continues it to the
// end (exit 0) and, run again, prints that the run already completed and trains nothing (exit 0). A
// worker that SIGTERM makes leave exits 143; a coordinator stopped by SIGINT exits 130, checkpointed.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Summary } from '../../coordinator/trainer.js';
import { writeDemoDataset } from '../../shared/data/demo_data.js';
import { repoRoot } from '../helpers/fixtures.js';
import { tinyConfigYaml } from '../helpers/tiny_config.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'samlora-exit-'));
const CLI = path.join(repoRoot(), 'dist', 'bin', 'sam-lora.js');
const env = { ...process.env, SAMLORA_TOKEN: 'exit-status-token-0123456789' };
const procs: ChildProcess[] = [];
after(() => {
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
});

interface Proc {
  proc: ChildProcess;
  exit: Promise<number | null>;
  stdout: () => string;
  stderr: () => string;
  /** Resolves once stdout has a line matching `re`. */
  line: (re: RegExp) => Promise<void>;
}

function start(args: string[]): Proc {
  const proc = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  procs.push(proc);
  let out = '';
  let err = '';
  const waiting: { re: RegExp; resolve: () => void }[] = [];
  proc.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    for (const w of waiting.filter((x) => x.re.test(out))) {
      waiting.splice(waiting.indexOf(w), 1);
      w.resolve();
    }
  });
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exit = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  const line = (re: RegExp): Promise<void> =>
    re.test(out)
      ? Promise.resolve()
      : Promise.race([
          new Promise<void>((resolve) => waiting.push({ re, resolve })),
          exit.then((code) => assert.fail(`exited (${code}) before printing ${re}:\n${out}\n${err}`)),
        ]);
  return { proc, exit, stdout: () => out, stderr: () => err, line };
}

const summaryOf = (runDir: string): Summary => JSON.parse(readFileSync(path.join(runDir, 'summary.json'), 'utf8')) as Summary;

/** The checkpoint latest.json points at holds the LoRA, at the summary's step. */
function assertCheckpointed(runDir: string): Summary {
  const s = summaryOf(runDir);
  assert.equal(s.status, 'stopped');
  const latest = s.checkpoints.latest;
  assert.ok(latest && existsSync(path.join(latest, 'lora.safetensors')), `checkpoint ${latest}`);
  assert.equal(path.basename(latest), `step-${String(s.steps).padStart(8, '0')}`, 'the checkpoint is of the step the run stopped at');
  return s;
}

let config: string;

describe('exit status of training commands', () => {
  before(async () => {
    const demo = path.join(tmp, 'demo');
    await writeDemoDataset(demo, { seed: 1, train: 4, test: 2, size: 64 });
    config = path.join(tmp, 'config.yaml');
    // 30 epochs of 2 steps: far more than run before the signal; no evaluations during the run.
    writeFileSync(config, tinyConfigYaml({ train: path.join(demo, 'train'), test: path.join(demo, 'test'), epochs: 30, batchSize: 2, checkpointDir: tmp, extra: 'eval:\n  interval_epochs: null\n' }));
  });

  it('train: SIGTERM checkpoints and exits 143; --auto-resume finishes the run (0); again, it trains nothing (0)', async () => {
    const runDir = path.join(tmp, 'train');
    const args = ['train', '--config', config, '--run-dir', runDir, '--auto-resume', '--no-dashboard', '--progress-interval', '0'];
    const first = start(args);
    await first.line(/^step 2\//m);
    first.proc.kill('SIGTERM');
    assert.equal(await first.exit, 143, first.stderr());
    const stopped = assertCheckpointed(runDir);
    assert.ok(stopped.steps >= 2 && stopped.steps < 60, `stopped at step ${stopped.steps} of 60`);
    assert.match(first.stdout(), new RegExp(`^held-out after training: {2}not evaluated \\(run stopped at step ${stopped.steps}; resume with --auto-resume or --resume\\)$`, 'm'));
    assert.match(first.stderr(), /no checkpoint in .* yet, starting a new run/);

    const second = start(args);
    assert.equal(await second.exit, 0, second.stderr());
    assert.match(second.stderr(), /--auto-resume: continuing from the checkpoint/);
    const done = summaryOf(runDir);
    assert.deepEqual([done.status, done.steps], ['completed', 60]);
    assert.match(second.stdout(), /^held-out after training: {2}Dice \d\.\d{4}, IoU \d\.\d{4}$/m);

    const mtime = statSync(path.join(runDir, 'summary.json')).mtimeMs;
    const third = start(args);
    assert.equal(await third.exit, 0, third.stderr());
    assert.match(third.stdout(), new RegExp(`${runDir}: the run has already completed \\(60 steps\\); nothing to train`));
    assert.match(third.stdout(), /^completed: 60 steps in [\d.]+ s, final loss \d\.\d{4}$/m);
    assert.match(third.stdout(), /\/checkpoints\/final\/lora\.safetensors$/m);
    assert.equal(statSync(path.join(runDir, 'summary.json')).mtimeMs, mtime, 'the completed run is left as it was');
  });

  it('worker: leaving on SIGTERM exits 143; coordinator: SIGINT stops it with a checkpoint and exits 130', async () => {
    const runDir = path.join(tmp, 'coordinator');
    const coordinator = start(['coordinator', '--listen', '127.0.0.1:0', '--config', config, '--run-dir', runDir, '--auto-resume', '--no-dashboard', '--progress-interval', '0']);
    // The address it listens on (port 0: any free port) is in its logs.
    const t0 = Date.now();
    let address: string | undefined;
    while (!(address = /coordinator listening on (127\.0\.0\.1:\d+)/.exec(coordinator.stderr())?.[1])) {
      assert.ok(Date.now() - t0 < 60_000 && coordinator.proc.exitCode === null, `the coordinator listens: ${coordinator.stderr()}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const worker = start(['worker', '--coordinator', address, '--device', 'cpu', '--threads', '1']);
    await coordinator.line(/^step 2\//m);
    worker.proc.kill('SIGTERM');
    assert.equal(await worker.exit, 143, worker.stderr());
    coordinator.proc.kill('SIGINT');
    assert.equal(await coordinator.exit, 130, coordinator.stderr());
    const stopped = assertCheckpointed(runDir);
    assert.ok(stopped.steps >= 2 && stopped.steps < 60, `stopped at step ${stopped.steps} of 60`);
    assert.match(coordinator.stdout(), new RegExp(`^stopped: ${stopped.steps} steps, held-out before Dice [\\d.]+, IoU [\\d.]+, after not evaluated \\(run stopped at step ${stopped.steps};`, 'm'));
  });
});
