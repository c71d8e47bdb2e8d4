// `sam-lora eval` end to end on a tiny run trained here: base vs the run's final LoRA (with its
// trained decoder), every output file, the printed table, and a LoRA that does not fit.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { parseLoraArg } from '../../bin/eval_command.js';
import { runLocal } from '../../launcher/in_process_run.js';
import type { Summary } from '../../coordinator/trainer.js';
import { writeDemoDataset } from '../../shared/data/demo_data.js';
import { TINY, writeLora, writeTinyConfig } from '../tools/evaluation/tiny_model.js';
import { repoRoot } from '../helpers/fixtures.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'samlora-evalcmd-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const CLI = path.join(repoRoot(), 'dist', 'bin', 'sam-lora.js');
const SIZE = 72;

function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: tmp });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface ResultsDoc {
  samples: number;
  models: {
    name: string;
    file: string | null;
    decoder: string | null;
    mean: { dice: number; iou: number };
    mean_predicted_iou: number | null;
    iou_correlation: number | null;
    images: { id: string; dice: number; iou: number; objects: number; predicted_iou: number | null }[];
  }[];
}

describe('sam-lora eval', () => {
  let summary: Summary;
  let runDir: string;
  before(async () => {
    const demo = path.join(tmp, 'demo');
    await writeDemoDataset(demo, { seed: 1, train: 4, test: 3, size: SIZE });
    runDir = path.join(tmp, 'run');
    summary = await runLocal({ configPath: writeTinyConfig(tmp, 'run', { train: path.join(demo, 'train'), test: path.join(demo, 'test') }), runDir });
    assert.equal(summary.status, 'completed');
  });

  it('compares base and the final LoRA: files, table, overlays, scores', async () => {
    const out = path.join(tmp, 'out');
    const lora = path.join(summary.checkpoints.final!, 'lora.safetensors');
    const r = cli('eval', '--config', path.join(runDir, 'config.yaml'), '--lora', lora, '--out', out);
    assert.equal(r.status, 0, r.stderr);
    for (const f of ['results.json', 'results.csv', 'dice_chart.png']) assert.ok(existsSync(path.join(out, f)), `${f} written`);

    const doc = JSON.parse(readFileSync(path.join(out, 'results.json'), 'utf8')) as ResultsDoc;
    assert.deepEqual(
      doc.models.map((m) => m.name),
      ['base', 'final'],
    );
    assert.equal(doc.models[1]!.decoder, path.join(summary.checkpoints.final!, 'decoder.safetensors'), 'the trained decoder is used');
    assert.equal(doc.samples, 3);
    for (const m of doc.models) {
      assert.equal(m.images.length, 3);
      for (const v of [m.mean.dice, m.mean.iou, ...m.images.flatMap((i) => [i.dice, i.iou])]) assert.ok(v >= 0 && v <= 1, `${m.name}: ${v} in [0, 1]`);
      // The IoU head's prediction per image, and its Pearson correlation with the real IoU over the 3 objects.
      for (const i of m.images) assert.equal(typeof i.predicted_iou, 'number', `${m.name} ${i.id}: predicted_iou`);
      assert.ok(m.iou_correlation === null || (m.iou_correlation >= -1 - 1e-9 && m.iou_correlation <= 1 + 1e-9), `${m.name}: iou_correlation ${m.iou_correlation}`);
    }
    // The same protocol as the training run's held-out evaluation.
    assert.ok(Math.abs(doc.models[0]!.mean.dice - summary.eval_before!.dice) < 1e-6, 'base = held-out before training');
    assert.ok(Math.abs(doc.models[1]!.mean.dice - summary.eval_after!.dice) < 1e-6, 'final = held-out after training');

    const ids = doc.models[0]!.images.map((i) => i.id);
    const csv = readFileSync(path.join(out, 'results.csv'), 'utf8').trimEnd().split('\n');
    assert.equal(csv[0], 'image,model,dice,iou,objects');
    assert.equal(csv.length, 1 + 3 * 2);

    const lines = r.stdout.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('-'));
    assert.match(lines[0]!, /^image\s+base dice\s+base iou\s+final dice\s+final iou$/);
    for (const id of [...ids, 'mean']) {
      const row = lines.find((l) => l.split(/\s+/)[0] === id);
      assert.ok(row, `table row for ${id}`);
      assert.equal(row.trim().split(/\s+/).length, 5);
    }

    const chart = await sharp(path.join(out, 'dice_chart.png')).metadata();
    assert.equal(chart.format, 'png');
    for (const model of ['base', 'final']) {
      for (const id of ids) {
        const f = path.join(out, 'overlays', model, `${path.basename(id, '.png')}.png`);
        const meta = await sharp(f).metadata();
        assert.deepEqual([meta.width, meta.height], [SIZE, SIZE], f);
      }
    }
  });

  it('rejects a LoRA that does not fit the model, naming the file, without a stack trace', async () => {
    const wide = path.join(tmp, 'wide_r4.safetensors');
    await writeLora(wide, { ...TINY, dim: 48 });
    const r = cli('eval', '--config', path.join(runDir, 'config.yaml'), '--lora', wide, '--out', path.join(tmp, 'out-wide'));
    assert.equal(r.status, 1);
    assert.ok(r.stderr.includes(`${wide}: LoRA`), r.stderr);
    assert.match(r.stderr, /does not fit the model/);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
    assert.ok(!existsSync(path.join(tmp, 'out-wide', 'results.json')));
  });

  it('takes --lora as FILE, NAME=FILE or a checkpoint directory', () => {
    const final = summary.checkpoints.final!;
    assert.deepEqual(parseLoraArg('a/b.safetensors'), { file: 'a/b.safetensors' });
    assert.deepEqual(parseLoraArg('r4=a/b.safetensors'), { name: 'r4', file: 'a/b.safetensors' });
    assert.deepEqual(parseLoraArg(final), { file: path.join(final, 'lora.safetensors') });
    assert.deepEqual(parseLoraArg(`last=${final}`), { name: 'last', file: path.join(final, 'lora.safetensors') });
  });

  it('reports usage errors with status 2', () => {
    const r = cli('eval', '--lora', 'x.safetensors');
    assert.equal(r.status, 2);
    assert.match(r.stderr, /missing --out/);
  });
});
