// `sam-lora export` with the tiny generated model: the files and JSON, and its exit statuses.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { writeLora, writeTinyConfig } from '../tools/evaluation/tiny_model.js';
import { repoRoot } from '../helpers/fixtures.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'samlora-exportcmd-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const CLI = path.join(repoRoot(), 'dist', 'bin', 'sam-lora.js');

function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: tmp });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface ExportJson {
  lora: string | null;
  adapted: number;
  files: { merged: string; encoder: { file: string; data: string | null }; decoder: { file: string; outputs: { name: string }[] } };
}

describe('sam-lora export', () => {
  let config: string;
  let lora: string;
  before(async () => {
    config = writeTinyConfig(tmp, 'cfg');
    lora = path.join(tmp, 'lora.safetensors');
    await writeLora(lora);
  });

  it('writes merged.safetensors, encoder.onnx and decoder.onnx and prints them as JSON', () => {
    const out = path.join(tmp, 'out');
    const r = cli('export', '--config', config, '--lora', lora, '--out', out);
    assert.equal(r.status, 0, r.stderr);
    const json = JSON.parse(r.stdout) as ExportJson;
    assert.equal(json.lora, lora);
    assert.ok(json.adapted > 0);
    assert.deepEqual([json.files.merged, json.files.encoder.file, json.files.decoder.file], ['merged.safetensors', 'encoder.onnx', 'decoder.onnx'].map((f) => path.join(out, f)));
    assert.equal(json.files.encoder.data, null);
    assert.deepEqual(json.files.decoder.outputs.map((o) => o.name), ['masks', 'iou_predictions', 'low_res_masks']);
    for (const f of ['merged.safetensors', 'encoder.onnx', 'decoder.onnx']) assert.ok(existsSync(path.join(out, f)), f);
  });

  it('exits 2 with the usage on a missing --out', () => {
    const r = cli('export', '--config', config);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /sam-lora export: missing --out DIR/);
    assert.match(r.stderr, /usage: sam-lora export/);
  });

  it('exits 1 naming the file when the checkpoint or the LoRA file is missing, and writes nothing', () => {
    const ckpt = path.join(tmp, 'no_such_sam.pth');
    const r = cli('export', '--checkpoint', ckpt, '--out', path.join(tmp, 'a'));
    assert.equal(r.status, 1);
    assert.match(r.stderr, /checkpoint file not found/);
    assert.ok(r.stderr.includes(ckpt), r.stderr);
    const missing = path.join(tmp, 'no_such_lora.safetensors');
    const l = cli('export', '--config', config, '--lora', missing, '--out', path.join(tmp, 'b'));
    assert.equal(l.status, 1);
    assert.ok(l.stderr.includes(missing), l.stderr);
    assert.doesNotMatch(l.stderr, /usage:/);
    assert.ok(!existsSync(path.join(tmp, 'a')) && !existsSync(path.join(tmp, 'b')));
  });
});
