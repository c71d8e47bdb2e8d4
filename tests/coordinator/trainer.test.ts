// The single-host training loop end to end on a tiny generated variant: run directory and
// summary.json, per-epoch sample accounting, checkpoints, exact resume, the ring dataset.

import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import sharp from 'sharp';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RunCompletedError } from '../../coordinator/prepare_run.js';
import { runLocal } from '../../launcher/in_process_run.js';
import { type RunEvent, RunEvents } from '../../coordinator/run_events.js';
import type { Summary } from '../../coordinator/trainer.js';
import { writeDemoDataset } from '../../shared/data/demo_data.js';
import { loadLora } from '../../shared/sam/lora_io.js';
import { fixtureDirs, readMeta, repoRoot } from '../helpers/fixtures.js';
import { tinyConfigYaml } from '../helpers/tiny_config.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'samlora-trainer-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** A tiny generated SAM (64 px input) so a step takes milliseconds. */
function writeConfig(name: string, train: string, test: string | null, extra = ''): string {
  const file = path.join(tmp, `${name}.yaml`);
  writeFileSync(file, tinyConfigYaml({ train, test, trainDecoder: true, checkpointDir: tmp, extra }));
  return file;
}

let demo: string;

describe('training loop (single host)', () => {
  before(async () => {
    demo = path.join(tmp, 'demo');
    await writeDemoDataset(demo, { seed: 1, train: 7, test: 2, size: 80 });
  });

  let full: Summary;
  it('trains, evaluates, checkpoints and writes summary.json', async () => {
    const runDir = path.join(tmp, 'full');
    full = await runLocal({ configPath: writeConfig('full', path.join(demo, 'train'), path.join(demo, 'test')), runDir });
    assert.equal(full.status, 'completed');
    assert.equal(full.steps, 8); // 2 epochs x ceil(7 / 2)
    assert.equal(full.losses.length, 8);
    assert.ok(full.losses.every(Number.isFinite));
    assert.ok(full.eval_before && full.eval_after);
    assert.deepEqual(
      full.epochs.map((e) => [e.epoch, e.samples_trained, e.duplicates, e.missing]),
      [
        [1, 7, 0, 0],
        [2, 7, 0, 0],
      ],
    );
    const onDisk = JSON.parse(readFileSync(path.join(runDir, 'summary.json'), 'utf8')) as Summary;
    for (const key of ['steps', 'final_loss', 'eval_before', 'eval_after', 'wall_s', 'epochs', 'status'] as const) assert.ok(key in onDisk, `summary.json lacks ${key}`);
    assert.equal(onDisk.status, 'completed');
    assert.ok(existsSync(path.join(runDir, 'config.yaml')));
    assert.ok(existsSync(path.join(runDir, 'train.log')));
    const lora = await loadLora(path.join(full.checkpoints.final!, 'lora.safetensors'));
    assert.equal(lora.spec.rank, 4);
    assert.ok(existsSync(path.join(full.checkpoints.final!, 'lora_reference.safetensors')), 'q/v adapters are also saved in the reference format');
    assert.ok(existsSync(path.join(full.checkpoints.final!, 'decoder.safetensors')));
  });

  it('resumes a stopped run exactly: the same losses and weights as the uninterrupted run', async () => {
    const runDir = path.join(tmp, 'resumed');
    const config = writeConfig('resume', path.join(demo, 'train'), path.join(demo, 'test'));
    const first = await runLocal({ configPath: config, runDir, maxSteps: 3 });
    assert.equal(first.status, 'stopped');
    assert.equal(first.steps, 3);
    const events = new RunEvents();
    const started: RunEvent[] = [];
    events.on((e) => e.kind === 'run_started' && started.push(e));
    const second = await runLocal({ configPath: config, runDir, resume: true, events });
    assert.equal(second.status, 'completed');
    // The dashboard's loss history continues across the resume: run_started carries the past losses.
    assert.deepEqual(started.map((e) => (e.kind === 'run_started' ? e.pastLosses : undefined)), [first.losses]);
    assert.equal(second.losses.length, full.losses.length);
    second.losses.forEach((l, i) => assert.ok(Math.abs(l - full.losses[i]!) <= 1e-6 * Math.max(1, Math.abs(full.losses[i]!)), `step ${i}: ${l} vs ${full.losses[i]}`));
    assert.deepEqual(second.epochs, full.epochs);
    const a = await loadLora(path.join(full.checkpoints.final!, 'lora.safetensors'));
    const b = await loadLora(path.join(second.checkpoints.final!, 'lora.safetensors'));
    for (const [k, t] of a.tensors) assert.deepEqual(b.tensors.get(k)!.data, t.data, k);
  });

  it('scans and trains on the reference project ring dataset', async () => {
    const rings = path.resolve(repoRoot(), '../shared/datasets/rings');
    const s = await runLocal({
      configPath: writeConfig('rings', path.join(rings, 'train'), path.join(rings, 'test'), ''),
      runDir: path.join(tmp, 'rings'),
      overrides: { 'train.epochs': '1' },
    });
    assert.equal(s.status, 'completed');
    assert.equal(s.epochs[0]!.samples_trained, 8);
    assert.ok(s.losses.every(Number.isFinite));
    assert.ok(s.eval_after && Number.isFinite(s.eval_after.dice));
  });

  it('skips bad samples with on_bad_sample: skip and refuses them by default, before any work', async () => {
    const bad = path.join(tmp, 'bad');
    await writeDemoDataset(bad, { seed: 2, train: 4, test: 0, size: 64 });
    const images = path.join(bad, 'train', 'images');
    const names = readdirSync(images).sort();
    // A truncated image, and an image whose mask has another size.
    const first = path.join(images, names[0]!);
    writeFileSync(first, readFileSync(first).subarray(0, 100));
    const secondMask = path.join(bad, 'train', 'masks', names[1]!);
    writeFileSync(secondMask, await sharp({ create: { width: 10, height: 12, channels: 3, background: { r: 255, g: 255, b: 255 } } }).png().toBuffer());
    const config = writeConfig('bad', path.join(bad, 'train'), null);
    await assert.rejects(runLocal({ configPath: config, runDir: path.join(tmp, 'bad-fail') }), (e: Error) => e.message.includes(names[0]!) && e.message.includes(names[1]!));
    assert.ok(!existsSync(path.join(tmp, 'bad-fail', 'summary.json')), 'nothing ran');
    const s = await runLocal({ configPath: config, runDir: path.join(tmp, 'bad-skip'), overrides: { 'data.on_bad_sample': 'skip', 'train.epochs': '1' } });
    assert.equal(s.status, 'completed');
    assert.equal(s.epochs[0]!.samples_trained, 2);
  });

  it('trains from a real SAM checkpoint (.pth) named in the config, variant inferred from it', async () => {
    const smallest = fixtureDirs()
      .map((d) => ({ d, m: readMeta(d) }))
      .sort((a, b) => a.m.config.img * a.m.config.dim - b.m.config.img * b.m.config.dim)[0]!;
    const file = path.join(tmp, 'real.yaml');
    writeFileSync(
      file,
      `model:\n  checkpoint: ${path.join(smallest.d, 'sam.pth')}\n  decoder_heads: ${smallest.m.config.dheads}\ndata:\n  train: ${path.join(demo, 'train')}\n  test: ${path.join(demo, 'test')}\ntrain:\n  epochs: 1\n  batch_size: 4\ncheckpoint:\n  dir: ${tmp}\n`,
    );
    const s = await runLocal({ configPath: file, runDir: path.join(tmp, 'real') });
    assert.equal(s.status, 'completed');
    assert.deepEqual(s.model.variant, smallest.m.config);
    assert.equal(s.model.checkpoint, path.join(smallest.d, 'sam.pth'));
    assert.ok(s.losses.every(Number.isFinite));
  });

  it('stops early when held-out Dice stops improving (patience)', async () => {
    const s = await runLocal({
      configPath: writeConfig('early', path.join(demo, 'train'), path.join(demo, 'test')),
      runDir: path.join(tmp, 'early'),
      // lr 0: nothing changes, so the second evaluation cannot improve on the first.
      overrides: { 'train.epochs': '5', 'optimizer.lr': '1e-12', 'eval.early_stopping.patience': '1', 'eval.early_stopping.min_delta': '0.01' },
    });
    assert.equal(s.status, 'completed');
    assert.ok(s.epochs_completed < 5, `ran ${s.epochs_completed} epochs`);
    assert.ok(s.best && s.checkpoints.best);
  });

  it("resume 'auto' (--auto-resume) starts a new run without a checkpoint and resumes one that has one", async () => {
    const runDir = path.join(tmp, 'auto');
    const config = writeConfig('auto', path.join(demo, 'train'), null);
    const first = await runLocal({ configPath: config, runDir, resume: 'auto', maxSteps: 2 });
    assert.deepEqual([first.status, first.steps], ['stopped', 2]);
    const second = await runLocal({ configPath: config, runDir, resume: 'auto' });
    assert.deepEqual([second.status, second.steps], ['completed', 8]);
    assert.deepEqual(second.losses.slice(0, 2), first.losses, 'continued, not restarted');
    await assert.rejects(runLocal({ configPath: config, resume: 'auto' }), /--auto-resume needs --run-dir/);
  });

  it('resuming a completed run trains nothing: RunCompletedError with its summary, the run directory untouched', async () => {
    // "early" stopped early (epochs left in its config): resuming it would train on.
    for (const name of ['full', 'early']) {
      const runDir = path.join(tmp, name);
      const summaryFile = path.join(runDir, 'summary.json');
      const before = readFileSync(summaryFile, 'utf8');
      const checkpoints = readdirSync(path.join(runDir, 'checkpoints')).sort();
      const config = writeConfig(name, path.join(demo, 'train'), path.join(demo, 'test'));
      for (const resume of [true, 'auto'] as const) {
        await assert.rejects(runLocal({ configPath: config, runDir, resume, overrides: { 'train.epochs': '5' } }), (err: unknown) => {
          assert.ok(err instanceof RunCompletedError, String(err));
          assert.match(err.message, new RegExp(`${name}: the run has already completed \\(\\d+ steps\\); nothing to train`));
          assert.deepEqual(err.summary, JSON.parse(before));
          return true;
        });
      }
      assert.equal(readFileSync(summaryFile, 'utf8'), before);
      assert.deepEqual(readdirSync(path.join(runDir, 'checkpoints')).sort(), checkpoints);
    }
  });

  it('refuses --resume without a checkpoint, naming the directory', async () => {
    const runDir = path.join(tmp, 'empty-run');
    await assert.rejects(runLocal({ configPath: writeConfig('nores', path.join(demo, 'train'), null), runDir, resume: true }), /empty-run holds no checkpoint/);
  });

  it('counts epochs from 1 everywhere: progress lines, events, summary.json epochs[] and evals, train.log', async () => {
    const runDir = path.join(tmp, 'epochs');
    const events = new RunEvents();
    const seen: RunEvent[] = [];
    events.on((e) => seen.push(e));
    const lines: string[] = [];
    // 2 epochs of 4 steps, evaluated after epoch 1 (eval.interval_epochs 1) and after the run.
    const s = await runLocal({ configPath: writeConfig('epochs', path.join(demo, 'train'), path.join(demo, 'test')), runDir, events, progress: (l) => lines.push(l) });
    assert.deepEqual(s.epochs.map((e) => e.epoch), [1, 2]);
    assert.deepEqual(s.evals.map((e) => [e.step, e.epoch]), [[4, 1], [8, 2]]);
    const steps = seen.flatMap((e) => (e.kind === 'step' ? [[e.step, e.epoch]] : []));
    assert.deepEqual(steps, [[1, 1], [2, 1], [3, 1], [4, 1], [5, 2], [6, 2], [7, 2], [8, 2]]);
    assert.deepEqual(seen.flatMap((e) => (e.kind === 'epoch_done' ? [e.epoch] : [])), [1, 2]);
    assert.deepEqual(seen.flatMap((e) => (e.kind === 'eval' ? [[e.phase, e.epoch]] : [])), [['before', 0], ['during', 1], ['after', 2]]);
    const progressEpochs = lines.flatMap((l) => /^epoch (\d+)\/2 step (\d+)\//.exec(l)?.slice(1).map(Number) ?? []);
    assert.deepEqual(progressEpochs, [1, 1, 1, 2, 1, 3, 1, 4, 2, 5, 2, 6, 2, 7, 2, 8]);
    assert.match(readFileSync(path.join(runDir, 'train.log'), 'utf8'), /epoch 2\/2 step 8\/8 /);
  });
});
