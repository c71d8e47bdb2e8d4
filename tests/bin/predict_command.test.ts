// `sam-lora predict` on one generated image with the tiny generated model: the files, the JSON, and
// bad input.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { DECODER_FILE, loadBaseModel } from '../../tools/evaluation/eval_model.js';
import { encodeRgbPng, generateDemoSample } from '../../shared/data/demo_data.js';
import { type Box, maskBounds } from '../../shared/data/prompts.js';
import { writeSafetensors } from '../../shared/tensor/safetensors.js';
import { writeLora, writeTinyConfig } from '../tools/evaluation/tiny_model.js';
import { repoRoot } from '../helpers/fixtures.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'samlora-predictcmd-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const CLI = path.join(repoRoot(), 'dist', 'bin', 'sam-lora.js');
const W = 72;

function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: tmp });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface PredictJson {
  width: number;
  height: number;
  iou: number[];
  best: number;
  decoder: string | null;
  files: { mask: string; overlay: string; masks: string[] };
}

describe('sam-lora predict', () => {
  let config: string;
  let image: string;
  let box: Box;
  before(async () => {
    config = writeTinyConfig(tmp, 'cfg');
    const s = generateDemoSample(4, 'test', 1, W);
    image = path.join(tmp, 'img.png');
    writeFileSync(image, await encodeRgbPng(s.image));
    box = maskBounds(s.mask)!;
  });

  it('writes mask.png at the image size and overlay.png, and prints the predicted IoU', async () => {
    const out = path.join(tmp, 'box');
    const r = cli('predict', '--config', config, '--image', image, '--box', box.join(','), '--out', out);
    assert.equal(r.status, 0, r.stderr);
    const json = JSON.parse(r.stdout) as PredictJson;
    assert.equal(json.iou.length, 1);
    assert.ok(Number.isFinite(json.iou[0]));
    const mask = await sharp(path.join(out, 'mask.png')).raw().toBuffer({ resolveWithObject: true });
    assert.deepEqual([mask.info.width, mask.info.height], [W, W]);
    assert.ok(mask.data.every((v) => v === 0 || v === 255), 'binary mask');
    const overlay = await sharp(path.join(out, 'overlay.png')).metadata();
    assert.deepEqual([overlay.width, overlay.height], [W, W]);
  });

  it('multimask: three masks, the best predicted IoU chosen; points and a LoRA with its decoder', async () => {
    const dir = path.join(tmp, 'ckpt');
    mkdirSync(dir);
    await writeLora(path.join(dir, 'lora.safetensors'));
    const base = await loadBaseModel({ configPath: config });
    await writeSafetensors(path.join(dir, DECODER_FILE), new Map([...base.state].filter(([k]) => k.startsWith('mask_decoder.'))));
    const out = path.join(tmp, 'multi');
    const cx = Math.round((box[0] + box[2]) / 2);
    const cy = Math.round((box[1] + box[3]) / 2);
    const r = cli('predict', '--config', config, '--lora', path.join(dir, 'lora.safetensors'), '--image', image, '--point', `${cx},${cy}`, '--point', '0,0,0', '--multimask', '--out', out);
    assert.equal(r.status, 0, r.stderr);
    const json = JSON.parse(r.stdout) as PredictJson;
    assert.equal(json.iou.length, 3);
    assert.equal(json.best, json.iou.indexOf(Math.max(...json.iou)));
    assert.equal(json.decoder, path.join(dir, DECODER_FILE));
    for (const f of ['mask_0.png', 'mask_1.png', 'mask_2.png', 'mask.png', 'overlay.png']) assert.ok(existsSync(path.join(out, f)), f);
  });

  it('fails with a clear message and status 1 on bad input, 2 on usage errors', () => {
    const outside = cli('predict', '--config', config, '--image', image, '--box', `0,0,${W + 10},20`, '--out', path.join(tmp, 'bad'));
    assert.equal(outside.status, 1);
    assert.match(outside.stderr, /box 0,0,82,20 lies outside the image: the image is 72 x 72 px/);
    assert.doesNotMatch(outside.stderr, /\n\s+at /);
    assert.ok(!existsSync(path.join(tmp, 'bad', 'mask.png')));

    const unreadable = cli('predict', '--config', config, '--image', path.join(tmp, 'missing.png'), '--box', '1,1,5,5', '--out', path.join(tmp, 'bad'));
    assert.equal(unreadable.status, 1);
    assert.match(unreadable.stderr, /cannot read the image: .*missing\.png: file not found/);

    const none = cli('predict', '--config', config, '--image', image, '--out', path.join(tmp, 'bad'));
    assert.equal(none.status, 1);
    assert.match(none.stderr, /no prompt/);

    const usage = cli('predict', '--image', image, '--box', '1,2,3', '--out', path.join(tmp, 'bad'));
    assert.equal(usage.status, 2);
    assert.match(usage.stderr, /--box takes 4 comma-separated numbers/);
  });
});
