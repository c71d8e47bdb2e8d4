import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type BaseModel, DECODER_FILE, baseEvalModel, inferenceFor, loadBaseModel, loadLoraModel } from '../../../tools/evaluation/eval_model.js';
import { generateDemoSample } from '../../../shared/data/demo_data.js';
import { prepareForInference } from '../../../shared/data/prepare.js';
import { maskBounds } from '../../../shared/data/prompts.js';
import { initLora } from '../../../shared/sam/lora.js';
import { saveLora } from '../../../shared/sam/lora_io.js';
import type { HostTensor } from '../../../shared/tensor/host_tensor.js';
import { writeSafetensors } from '../../../shared/tensor/safetensors.js';
import { TINY, writeLora, writeTinyConfig } from './tiny_model.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'samlora-evalmodel-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('evaluation models', () => {
  let base: BaseModel;
  before(async () => {
    base = await loadBaseModel({ configPath: writeTinyConfig(tmp, 'cfg') });
  });

  it('loads the generated weights of a config', () => {
    assert.equal(base.sam.dim, 32);
    assert.equal(base.description, 'generated weights (seed 4)');
    assert.ok(base.state.has('mask_decoder.iou_token.weight'));
  });

  it('rejects a LoRA of the wrong size, naming the file', async () => {
    const file = path.join(tmp, 'wide.safetensors');
    await writeLora(file, { ...TINY, dim: 48, heads: 2 });
    await assert.rejects(loadLoraModel(file, 'wide', base), (e: Error) => e.message.startsWith(`${file}: LoRA`) && /does not fit the model/.test(e.message));
  });

  it('uses decoder.safetensors beside the LoRA file (and checks it); base never does', async () => {
    const dir = path.join(tmp, 'ckpt');
    mkdirSync(dir);
    const lora = path.join(dir, 'lora.safetensors');
    await writeLora(lora);
    const alone = await loadLoraModel(lora, 'x', base);
    assert.equal(alone.decoderFile, null);
    assert.ok([...alone.params.keys()].every((k) => k.startsWith('blocks.')));

    const decoder = new Map<string, HostTensor>([...base.state].filter(([k]) => k.startsWith('mask_decoder.')));
    await writeSafetensors(path.join(dir, DECODER_FILE), decoder);
    const withDecoder = await loadLoraModel(lora, 'x', base);
    assert.equal(withDecoder.decoderFile, path.join(dir, DECODER_FILE));
    assert.equal(withDecoder.params.size, alone.params.size + decoder.size);
    assert.equal(baseEvalModel().decoderFile, null);

    decoder.delete('mask_decoder.iou_token.weight');
    await writeSafetensors(path.join(dir, DECODER_FILE), decoder);
    await assert.rejects(loadLoraModel(lora, 'x', base), (e: Error) => e.message.startsWith(path.join(dir, DECODER_FILE)) && /mask_decoder\.iou_token\.weight: missing/.test(e.message));
  });

  it('refuses a decoder.safetensors holding NaN, naming the tensor', async () => {
    const dir = path.join(tmp, 'nan-decoder');
    mkdirSync(dir);
    const lora = path.join(dir, 'lora.safetensors');
    await writeLora(lora);
    const decoder = new Map<string, HostTensor>([...base.state].filter(([k]) => k.startsWith('mask_decoder.')).map(([k, t]) => [k, { shape: t.shape, data: Float32Array.from(t.data) }]));
    decoder.get('mask_decoder.iou_token.weight')!.data[0] = Number.NaN;
    await writeSafetensors(path.join(dir, DECODER_FILE), decoder);
    await assert.rejects(loadLoraModel(lora, 'x', base), /decoder\.safetensors: tensor "mask_decoder\.iou_token\.weight" holds a non-finite value \(NaN at element 0\)/);
  });

  it('a zero LoRA with the model\'s own decoder weights predicts exactly what the base model does', async () => {
    const dir = path.join(tmp, 'identity');
    mkdirSync(dir);
    const spec = { rank: 2, alpha: 2, blocks: [0, 1], targets: ['q', 'v'] as ('q' | 'v')[] };
    await saveLora(path.join(dir, 'lora.safetensors'), initLora(TINY, spec, 1), spec, 'native'); // B = 0
    await writeSafetensors(path.join(dir, DECODER_FILE), new Map([...base.state].filter(([k]) => k.startsWith('mask_decoder.'))));
    const tuned = await loadLoraModel(path.join(dir, 'lora.safetensors'), 'id', base);
    const s = generateDemoSample(2, 'test', 0, 72);
    const prepared = await prepareForInference({ image: s.image }, [{ box: maskBounds(s.mask)! }], { img: base.sam.img });
    const run = async (m: typeof tuned): Promise<Float32Array> => {
      const inf = inferenceFor(m, base);
      try {
        const emb = await inf.encode(prepared.image, m.params);
        return (await inf.decode(emb, prepared.objects[0]!.prompt, m.params, prepared)).masks;
      } finally {
        await inf.release();
      }
    };
    const a = await run(baseEvalModel());
    const b = await run(tuned);
    let maxDiff = 0;
    for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i]! - b[i]!));
    assert.ok(maxDiff < 1e-4, `max |diff| ${maxDiff}`);
  });
});
