// Hostile LoRA files through the commands that read them (lora info, lora convert, predict --lora): a
// 2 KB reference-format file naming w_a_100000000, a mis-shaped decoder adapter, a rank above the
// layer width, NaN weights. Each is refused with an error naming the file (and the tensor), exit 1,
// within a time limit and in bounded memory.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { encodeRgbPng, generateDemoSample } from '../../shared/data/demo_data.js';
import { maskBounds } from '../../shared/data/prompts.js';
import { initLora } from '../../shared/sam/lora.js';
import type { HostTensor } from '../../shared/tensor/host_tensor.js';
import { writeSafetensors } from '../../shared/tensor/safetensors.js';
import { TINY, writeTinyConfig } from '../tools/evaluation/tiny_model.js';
import { runCli } from '../helpers/run_cli.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'samlora-hostile-lora-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

// The unbounded loader ran past 120 s and 5 GB; a refused file takes well under a second of work.
const TIMEOUT_MS = 60_000;
const MAX_RSS = 768 * 1024 * 1024;

const matrix = (rows: number, cols: number): HostTensor => ({ shape: [rows, cols], data: new Float32Array(rows * cols) });

async function write(name: string, tensors: Map<string, HostTensor>): Promise<string> {
  const file = path.join(tmp, name);
  await writeSafetensors(file, tensors);
  return file;
}

function assertRefused(run: Awaited<ReturnType<typeof runCli>>, pattern: RegExp): void {
  assert.equal(run.timedOut, false, 'the command did not finish within its time limit');
  assert.equal(run.code, 1, `exit ${run.code}: ${run.stderr}`);
  assert.match(run.stderr, pattern);
  assert.doesNotMatch(run.stderr, /\n\s+at /, 'no stack trace');
  assert.ok(run.report && run.report.maxRssBytes < MAX_RSS, `peak RSS ${run.report?.maxRssBytes}`);
}

describe('hostile LoRA files through the CLI', () => {
  let bomb: string;
  before(async () => {
    bomb = await write('bomb.safetensors', new Map([['w_a_100000000', matrix(4, 64)]]));
    assert.ok(statSync(bomb).size < 2048);
  });
  const incomplete = /bomb\.safetensors: incomplete reference-format LoRA: .*missing w_a_000, w_b_000, .*\(\+199999991 more\)/;

  it('lora info refuses a 2 KB reference file naming w_a_100000000', async () => {
    assertRefused(await runCli(['lora', 'info', bomb], { timeoutMs: TIMEOUT_MS }), incomplete);
  });

  it('lora convert refuses it and writes nothing', async () => {
    const out = path.join(tmp, 'converted.safetensors');
    assertRefused(await runCli(['lora', 'convert', bomb, out, '--format', 'native'], { timeoutMs: TIMEOUT_MS }), incomplete);
    assert.throws(() => statSync(out), /ENOENT/);
  });

  it('predict --lora refuses it', async () => {
    const config = writeTinyConfig(tmp, 'cfg');
    const s = generateDemoSample(4, 'test', 1, 64);
    const image = path.join(tmp, 'img.png');
    writeFileSync(image, await encodeRgbPng(s.image));
    const box = maskBounds(s.mask)!;
    const predict = (lora: string): Promise<Awaited<ReturnType<typeof runCli>>> =>
      runCli(['predict', '--config', config, '--lora', lora, '--image', image, '--box', box.join(','), '--out', path.join(tmp, 'pred')], {
        timeoutMs: TIMEOUT_MS,
        cwd: tmp,
      });
    assertRefused(await predict(bomb), incomplete);

    // A LoRA of the right shapes for the model, with one NaN: refused naming the tensor.
    const spec = { rank: 2, alpha: 2, blocks: [0, 1], targets: ['q', 'v'] as ('q' | 'v')[] };
    const tensors = initLora(TINY, spec, 1);
    tensors.get('blocks.1.b_v')!.data[3] = Number.NaN;
    const nan = await write('nan.safetensors', tensors);
    assertRefused(await predict(nan), /nan\.safetensors: tensor "blocks\.1\.b_v" holds a non-finite value \(NaN at element 3\)/);
  });

  it('lora info refuses a mis-shaped decoder adapter and a rank above the layer width', async () => {
    const spec = { rank: 2, alpha: 2, blocks: [], targets: [], decoderTargets: ['v_proj' as const] };
    const decoder = initLora(TINY, spec, 1);
    decoder.set('mask_decoder.transformer.final_attn_token_to_image.v_proj.lora_b', matrix(7, 2));
    const misShaped = await write('misshaped.safetensors', decoder);
    assertRefused(await runCli(['lora', 'info', misShaped], { timeoutMs: TIMEOUT_MS }), /misshaped\.safetensors: inconsistent mask-decoder widths/);
    const wide = await write('wide.safetensors', new Map([['blocks.0.a_v', matrix(40, 32)], ['blocks.0.b_v', matrix(32, 40)]]));
    assertRefused(await runCli(['lora', 'info', wide], { timeoutMs: TIMEOUT_MS }), /wide\.safetensors: rank 40 is larger than the width 32/);
  });
});
