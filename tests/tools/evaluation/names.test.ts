import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BASE_MODEL, imageNames, modelNames, safeName } from '../../../tools/evaluation/names.js';

describe('evaluation names', () => {
  it('names LoRA files by their shortest distinguishing path suffix, skipping checkpoint boilerplate', () => {
    assert.deepEqual(modelNames([{ file: 'loras/lora_r8.safetensors' }, { file: 'loras/lora_r2.safetensors' }]), ['lora_r8', 'lora_r2']);
    assert.deepEqual(modelNames([{ file: 'runs/r4/checkpoints/final/lora.safetensors' }]), ['final']);
    assert.deepEqual(
      modelNames([{ file: 'runs/r4/checkpoints/final/lora.safetensors' }, { file: 'runs/r8/checkpoints/final/lora.safetensors' }, { file: 'runs/r8/checkpoints/best/lora.safetensors' }]),
      ['r4-final', 'r8-final', 'best'],
    );
    assert.deepEqual(modelNames([{ file: 'a/x.safetensors', name: 'mine' }, { file: 'b/mine.safetensors' }]), ['mine', 'b-mine']);
  });

  it('never reuses "base" or a name twice', () => {
    assert.deepEqual(modelNames([{ file: '/base.safetensors' }]), [`${BASE_MODEL}-2`]);
    assert.deepEqual(modelNames([{ file: '/x.safetensors' }, { file: '/x.safetensors' }]), ['x', 'x-2']);
  });

  it('makes file-safe, distinct image names from sample ids', () => {
    assert.deepEqual(imageNames(['images/a.png', 'images/sub/b c.jpg', 'images/a.jpg', 'c.png']), ['a', 'sub_b_c', 'a-2', 'c']);
    assert.equal(safeName('../x'), '__x');
    assert.equal(safeName(''), '_');
  });
});
