// `--resume` without `--run-dir`, with real processes on a tiny run: with nothing to resume it fails
// at once and creates no directory; a run stopped by SIGTERM prints its run directory and the exact
// command that resumes it; `train --resume` alone continues that run (the latest under checkpoint.dir)
// to its end.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Summary } from '../../coordinator/trainer.js';
import { writeDemoDataset } from '../../shared/data/demo_data.js';
import { repoRoot } from '../helpers/fixtures.js';
import { tinyConfigYaml } from '../helpers/tiny_config.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'samlora-resume-latest-'));
const CLI = path.join(repoRoot(), 'dist', 'bin', 'sam-lora.js');
const procs: ChildProcess[] = [];
after(() => {
  for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
});

interface Run {
  proc: ChildProcess;
  exit: Promise<number | null>;
  stdout: () => string;
  stderr: () => string;
}

/** The CLI from the checkout (cwd: the repository, as `npx sam-lora` runs it), killed after 120 s. */
function start(args: string[]): Run {
  const proc = spawn(process.execPath, [CLI, ...args], { cwd: repoRoot(), stdio: ['ignore', 'pipe', 'pipe'] });
  procs.push(proc);
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const timer = setTimeout(() => proc.kill('SIGKILL'), 120_000);
  const exit = new Promise<number | null>((resolve) => proc.on('exit', (code) => (clearTimeout(timer), resolve(code))));
  return { proc, exit, stdout: () => out, stderr: () => err };
}

/** Resolves once stdout has a line matching `re` (fails if the process exits first). */
async function line(r: Run, re: RegExp): Promise<void> {
  while (!re.test(r.stdout())) {
    assert.ok(r.proc.exitCode === null, `exited before printing ${re}:\n${r.stdout()}\n${r.stderr()}`);
    await new Promise((resolve) => r.proc.stdout!.once('data', resolve));
  }
}

let config: string;
let runs: string;

describe('train --resume without --run-dir', () => {
  before(async () => {
    const demo = path.join(tmp, 'demo');
    await writeDemoDataset(demo, { seed: 1, train: 4, test: 2, size: 64 });
    runs = path.join(tmp, 'runs');
    config = path.join(tmp, 'config.yaml');
    // 20 epochs of 2 steps: more than run before the signal; no evaluations during the run.
    writeFileSync(config, tinyConfigYaml({ train: path.join(demo, 'train'), test: path.join(demo, 'test'), epochs: 20, batchSize: 2, checkpointDir: runs, extra: 'eval:\n  interval_epochs: null\n' }));
  });

  it('with no run to resume: exit 1 naming checkpoint.dir, and no directory is created', async () => {
    mkdirSync(runs);
    const r = start(['train', '--config', config, '--resume', '--no-dashboard']);
    assert.equal(await r.exit, 1, r.stderr());
    assert.match(r.stderr(), new RegExp(`--resume without --run-dir: no run under ${runs} has a checkpoint to resume`));
    assert.deepEqual(readdirSync(runs), []);
  });

  it('a stopped run prints its directory and the command that resumes it; --resume alone continues it', async () => {
    const args = ['train', '--config', config, '--no-dashboard', '--progress-interval', '0'];
    const first = start(args);
    await line(first, /^step 2\//m);
    first.proc.kill('SIGTERM');
    assert.equal(await first.exit, 143, first.stderr());
    const [runId] = readdirSync(runs);
    const runDir = path.join(runs, runId!);
    const stopped = JSON.parse(readFileSync(path.join(runDir, 'summary.json'), 'utf8')) as Summary;
    assert.equal(stopped.status, 'stopped');
    assert.match(first.stderr(), new RegExp(`stopping after this step \\(checkpointing into ${runDir}; the command to resume follows\\)`));
    assert.match(first.stdout(), new RegExp(`^run directory: ${runDir}$`, 'm'));
    const resumeLine = /^resume with: {3}(.*)$/m.exec(first.stdout())?.[1];
    assert.equal(resumeLine, `npx sam-lora train --config ${config} --no-dashboard --progress-interval 0 --run-dir ${runDir} --resume`);

    const second = start(['train', '--config', config, '--resume', '--no-dashboard']);
    assert.equal(await second.exit, 0, second.stderr());
    assert.match(second.stderr(), new RegExp(`--resume: continuing the latest run under ${runs}: ${runDir}`));
    const done = JSON.parse(readFileSync(path.join(runDir, 'summary.json'), 'utf8')) as Summary;
    assert.deepEqual([done.status, done.steps], ['completed', 40]);
    assert.deepEqual(readdirSync(runs), [runId], 'no new run directory');
    assert.doesNotMatch(second.stdout(), /^resume with:/m, 'a completed run has nothing to resume');
  });
});
