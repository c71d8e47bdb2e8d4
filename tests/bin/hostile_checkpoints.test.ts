// Small checkpoint files that claim huge tensors, through `sam-lora predict --checkpoint`: a stride-0
// .pth view of 2^32 elements, a deflated .pth storage bigger than its tensors, a safetensors file
// whose tensors share bytes, an empty .pth and a NaN checkpoint. Each is refused with an error
// naming the file, exit 1, in bounded time and memory (the attacks grew to 2-15 GB).

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { encodeRgbPng, generateDemoSample } from '../../shared/data/demo_data.js';
import { encodeSafetensors } from '../../shared/tensor/safetensors.js';
import { runCli } from '../helpers/run_cli.js';
import { buildPth, float32Bytes, stateDictPickle } from '../tensor/pth_test_helpers.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'samlora-hostile-ckpt-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const TIMEOUT_MS = 60_000;
const MAX_RSS = 768 * 1024 * 1024;

describe('hostile checkpoints through sam-lora predict', () => {
  let image: string;
  before(async () => {
    image = path.join(tmp, 'img.png');
    writeFileSync(image, await encodeRgbPng(generateDemoSample(1, 'test', 0, 64).image));
  });

  async function refused(name: string, bytes: Uint8Array, pattern: RegExp): Promise<void> {
    const file = path.join(tmp, name);
    writeFileSync(file, bytes);
    const run = await runCli(['predict', '--checkpoint', file, '--image', image, '--box', '4,4,40,40', '--out', path.join(tmp, 'out')], { timeoutMs: TIMEOUT_MS, cwd: tmp });
    assert.equal(run.timedOut, false, 'predict did not finish within its time limit');
    assert.equal(run.code, 1, `exit ${run.code}: ${run.stderr}`);
    assert.ok(run.stderr.includes(file), run.stderr);
    assert.match(run.stderr, pattern);
    assert.ok(run.report && run.report.maxRssBytes < MAX_RSS, `peak RSS ${run.report?.maxRssBytes}`);
  }

  it('a 2^32-element stride-0 view in a tiny .pth', async () => {
    const pkl = stateDictPickle({ x: { storageType: 'FloatStorage', storageKey: '0', storageNumel: 1, offset: 0, size: [65536, 65536], stride: [0, 0] } });
    await refused('stride0.pth', buildPth(pkl, { '0': float32Bytes([1]) }), /view storage 0 of 1 elements as 4294967296 elements/);
  });

  it('a deflated .pth storage that inflates past its tensors', async () => {
    const pkl = stateDictPickle({ x: { storageType: 'FloatStorage', storageKey: '0', storageNumel: 1, offset: 0, size: [1], stride: [1] } });
    await refused('bomb.pth', buildPth(pkl, { '0': new Uint8Array(64 * 1024 * 1024) }, { deflate: true }), /storage 0 is 67108864 bytes in the archive, but its 1 float32 elements are 4 bytes/);
  });

  it('a safetensors file whose tensors share bytes', async () => {
    const header: Record<string, unknown> = {};
    for (let i = 0; i < 2000; i++) header[`t${i}`] = { dtype: 'F32', shape: [1 << 18], data_offsets: [0, 1 << 20] };
    const json = new TextEncoder().encode(JSON.stringify(header));
    const bytes = new Uint8Array(8 + json.length + (1 << 20));
    new DataView(bytes.buffer).setBigUint64(0, BigInt(json.length), true);
    bytes.set(json, 8);
    await refused('overlap.safetensors', bytes, /overlap in the data buffer/);
  });

  it('an empty .pth, and a checkpoint holding NaN', async () => {
    await refused('empty.pth', new Uint8Array(0), /the file is empty \(0 bytes\)/);
    const nan = new Float32Array(4).fill(Number.NaN);
    await refused('nan.safetensors', encodeSafetensors({ 'image_encoder.patch_embed.proj.bias': { shape: [4], data: nan } }), /tensor "image_encoder\.patch_embed\.proj\.bias" holds a non-finite value \(NaN at element 0\)/);
  });
});
