// Bad configurations: each gives one ConfigError naming the key (as written) and the file, with the
// line and column where the file shows them; several problems are all listed in one error.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../shared/config/index.js';
import { makeProject } from './project.js';

interface Ref {
  train?: string;
  test?: string;
  checkpoint?: string;
  rank?: string;
  batch?: string;
  epochs?: string;
}

/** The reference config.yaml with some values replaced (raw YAML text), plus extra lines. */
function reference(r: Ref = {}, extra = ''): string {
  return `DATASET:
  TRAIN_PATH: ${r.train ?? '"./dataset/train"'}
  TEST_PATH: ${r.test ?? '"./dataset/test"'}
SAM:
  CHECKPOINT: ${r.checkpoint ?? '"./sam_vit_b_01ec64.pth"'}
  RANK: ${r.rank ?? '512'}
TRAIN:
  BATCH_SIZE: ${r.batch ?? '1'}
  NUM_EPOCHS: ${r.epochs ?? '50'}
${extra}`;
}

const MODEL = 'model:\n  checkpoint: ./sam_vit_b_01ec64.pth\n';
const DATA = 'data:\n  train: ./dataset/train\n';
const OURS = (extra: string): string => `${MODEL}${DATA}${extra}`;

interface Case {
  name: string;
  text: string;
  key: string;
  message: RegExp;
  line?: number;
  column?: number;
}

const CASES: Case[] = [
  { name: 'malformed YAML', text: 'SAM:\n  RANK: 4\n CHECKPOINT: x\n', key: '', message: /YAML syntax error/, line: 3, column: 1 },
  { name: 'duplicate YAML key', text: reference({}, 'TRAIN:\n  BATCH_SIZE: 2\n'), key: '', message: /YAML syntax error: Map keys must be unique/, line: 10, column: 1 },
  { name: 'unknown key (ours)', text: reference({}, 'train:\n  epoch: 3\n'), key: 'train.epoch', message: /^unknown key \(did you mean train\.epochs\?\)$/, line: 11, column: 10 },
  { name: 'unknown section (reference-like)', text: reference({}, 'SAMM:\n  RANK: 4\n'), key: 'SAMM', message: /unknown key \(did you mean SAM\?\)/, line: 10, column: 1 },
  { name: 'unknown reference sub-key', text: reference().replace('RANK: 512', 'RANK: 512\n  LORA_RANK: 4'), key: 'SAM.LORA_RANK', message: /unknown key.*SAM\.CHECKPOINT, SAM\.RANK/, line: 7, column: 14 },
  { name: 'unknown section', text: reference({}, 'trian:\n  epochs: 3\n'), key: 'trian', message: /unknown key \(did you mean train\?\)/, line: 10, column: 1 },
  { name: 'wrong type (reference)', text: reference({ batch: 'two' }), key: 'TRAIN.BATCH_SIZE', message: /expected a number \(got "two"\)/, line: 8, column: 15 },
  { name: 'wrong type (ours)', text: OURS('optimizer:\n  lr: fast\n'), key: 'optimizer.lr', message: /expected a number \(got "fast"\)/, line: 6, column: 7 },
  { name: 'wrong type (section)', text: OURS('train: 5\n'), key: 'train', message: /expected a mapping \(got 5\)/ },
  { name: 'wrong enum value', text: OURS('optimizer: { name: sgd }\n'), key: 'optimizer.name', message: /must be one of adam, adamw \(got "sgd"\)/ },
  { name: 'rank 0', text: reference({ rank: '0' }), key: 'SAM.RANK', message: /must be >= 1 \(got 0\)/, line: 6, column: 9 },
  { name: 'rank 0 (ours)', text: OURS('lora: { rank: 0 }\n'), key: 'lora.rank', message: /must be >= 1 \(got 0\)/ },
  { name: 'fractional rank', text: reference({ rank: '2.5' }), key: 'SAM.RANK', message: /must be an integer \(got 2\.5\)/ },
  { name: 'batch 0', text: reference({ batch: '0' }), key: 'TRAIN.BATCH_SIZE', message: /must be >= 1 \(got 0\)/ },
  { name: 'negative epochs', text: reference({ epochs: '-1' }), key: 'TRAIN.NUM_EPOCHS', message: /must be >= 0 \(got -1\)/ },
  { name: 'lr 0', text: OURS('optimizer: { lr: 0 }\n'), key: 'optimizer.lr', message: /must be > 0 \(got 0\)/ },
  { name: 'alpha 0', text: OURS('lora: { alpha: 0 }\n'), key: 'lora.alpha', message: /must be > 0 \(got 0\)/ },
  { name: 'bad list entry', text: OURS('lora: { targets: [q, x] }\n'), key: 'lora.targets[1]', message: /must be one of q, k, v, proj, lin1, lin2 \(got "x"\)/, line: 5, column: 22 },
  { name: 'bad variant', text: `${MODEL}  variant: vit_x\n${DATA}`, key: 'model.variant', message: /must be auto, vit_b, vit_l, vit_h, or a mapping/, line: 3, column: 12 },
  { name: 'missing dataset path', text: reference({ train: './dataset/nope' }), key: 'DATASET.TRAIN_PATH', message: /dataset directory not found: .*dataset\/nope \(\.\/dataset\/nope relative to /, line: 2, column: 15 },
  { name: 'missing test path (ours)', text: `${MODEL}${DATA}  test: ./dataset/nope\n`, key: 'data.test', message: /dataset directory not found/, line: 5, column: 9 },
  { name: 'dataset path is a file', text: reference({ test: './sam_vit_b_01ec64.pth' }), key: 'DATASET.TEST_PATH', message: /not a directory/ },
  { name: 'missing checkpoint', text: reference({ checkpoint: './sam_vit_h.pth' }), key: 'SAM.CHECKPOINT', message: /checkpoint file not found: .*sam_vit_h\.pth/, line: 5, column: 15 },
  { name: 'checkpoint is a directory', text: reference({ checkpoint: './dataset' }), key: 'SAM.CHECKPOINT', message: /not a checkpoint file/ },
  { name: 'required key absent', text: 'SAM:\n  CHECKPOINT: ./sam_vit_b_01ec64.pth\n', key: 'data.train', message: /required: .*DATASET\.TRAIN_PATH/ },
  { name: 'same setting twice', text: reference({}, 'lora:\n  rank: 8\n'), key: 'lora.rank', message: /sets the same setting as SAM\.RANK \(line 6\); keep one of them/, line: 11, column: 9 },
  { name: 'both eval intervals', text: OURS('eval: { interval_steps: 10, interval_epochs: 1 }\n'), key: 'eval.interval_steps', message: /either eval\.interval_steps or eval\.interval_epochs/ },
  { name: 'min_lr above lr', text: OURS('schedule: { min_lr: 0.1 }\n'), key: 'schedule.min_lr', message: /must not exceed optimizer\.lr/ },
  { name: 'mixed prompts with several points', text: OURS('train:\n  prompt: { mode: mixed, points: 2 }\n'), key: 'train.prompt.points', message: /mixed mode .* must be 1 \(got 2\)/ },
  { name: 'inverted augment range', text: OURS('train:\n  augment: { brightness: [1.2, 0.8] }\n'), key: 'train.augment.brightness', message: /lo <= hi/ },
  { name: 'flip probability above 1', text: OURS('train:\n  augment: { hflip: 2 }\n'), key: 'train.augment.hflip', message: /must be <= 1 \(got 2\)/ },
  { name: 'missing annotation file', text: OURS('  format: coco\n  annotations: _annotations.coco.json\n'), key: 'data.annotations', message: /annotation file not found in data\.train: .*dataset\/train\/_annotations\.coco\.json/, line: 6, column: 16 },
  { name: 'nothing to train', text: OURS('lora: { targets: [] }\n'), key: 'lora.targets', message: /nothing to train/ },
  { name: 'block out of range of a named variant', text: `${MODEL}  variant: vit_b\n${DATA}lora: { blocks: [0, 12] }\n`, key: 'lora.blocks[1]', message: /block 12 is outside 0\.\.11/, line: 6, column: 21 },
  { name: 'not a mapping', text: '- DATASET\n- SAM\n', key: '', message: /must be a mapping of sections/ },
  { name: 'unknown arena strategy', text: OURS('runtime: { arena_extend_strategy: grow }\n'), key: 'runtime.arena_extend_strategy', message: /must be one of next_power_of_two, same_as_requested \(got "grow"\)/ },
  { name: 'unknown cuDNN search', text: OURS('runtime: { cudnn_conv_algo_search: fast }\n'), key: 'runtime.cudnn_conv_algo_search', message: /must be one of exhaustive, heuristic, default/ },
  { name: 'tf32 not a boolean', text: OURS('runtime: { use_tf32: maybe }\n'), key: 'runtime.use_tf32', message: /expected true or false \(got "maybe"\)/ },
  { name: 'negative memory limit', text: OURS('runtime: { gpu_mem_limit: -1 }\n'), key: 'runtime.gpu_mem_limit', message: /must be >= 1 \(got -1\)/ },
  { name: 'bf16 precision', text: OURS('runtime: { precision: bf16 }\n'), key: 'runtime.precision', message: /must be fp32 or fp16 \(bf16 cannot cross onnxruntime-node's JS boundary\)/ },
  { name: 'loss scale below 1', text: OURS('runtime:\n  loss_scale: { initial: 0.5 }\n'), key: 'runtime.loss_scale.initial', message: /must be >= 1 \(got 0.5\)/ },
  { name: 'loss scale growth interval 0', text: OURS('runtime:\n  loss_scale: { growth_interval: 0 }\n'), key: 'runtime.loss_scale.growth_interval', message: /must be >= 1 \(got 0\)/ },
  // Valid values onnxruntime-node's binding cannot hand to the CUDA provider: refused, not ignored.
  { name: 'memory limit this build cannot apply', text: OURS('runtime:\n  gpu_mem_limit: 8589934592\n'), key: 'runtime.gpu_mem_limit', message: /passes only the device id .* cannot be applied; leave it null/, line: 6, column: 18 },
  { name: 'arena strategy this build cannot apply', text: OURS('runtime: { arena_extend_strategy: same_as_requested }\n'), key: 'runtime.arena_extend_strategy', message: /always grows by next_power_of_two/ },
  { name: 'cuDNN search this build cannot apply', text: OURS('runtime: { cudnn_conv_algo_search: heuristic }\n'), key: 'runtime.cudnn_conv_algo_search', message: /always exhaustive/ },
];

describe('bad configurations: one error naming key and file', () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const p = makeProject();
      const file = p.write('config.yaml', c.text);
      await assert.rejects(loadConfig(file), (e: unknown) => {
        assert.ok(e instanceof ConfigError, String(e));
        assert.equal(e.file, file);
        assert.equal(e.problems.length, 1, e.message);
        const [problem] = e.problems;
        assert.equal(problem!.key, c.key, e.message);
        assert.match(problem!.message, c.message);
        if (c.line !== undefined) assert.deepEqual([problem!.line, problem!.column], [c.line, c.column], e.message);
        // The message names the file (with the position when known) and the key.
        const esc = (x: string): string => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        const where = c.line !== undefined ? esc(`${file}:${c.line}:${c.column}`) : `${esc(file)}(:\\d+:\\d+)?`;
        assert.match(e.message, new RegExp(`\\n  ${where}: ${c.key ? esc(`${c.key}: `) : ''}`));
        return true;
      });
    });
  }

  it('an unreadable file names it', async () => {
    const p = makeProject();
    await assert.rejects(loadConfig(p.abs('missing.yaml')), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.file, p.abs('missing.yaml'));
      assert.match(e.message, /missing\.yaml.*cannot read the config file: file not found/);
      return true;
    });
  });

  it('several problems at once are all listed in one error, before any work', async () => {
    const p = makeProject();
    const text = `DATASET:
  TRAIN_PATH: ./dataset/nope
SAM:
  CHECKPOINT: ./nope.pth
  RANK: 0
TRAIN:
  BATCH_SIZE: 0
  NUM_EPOCHS: -2
train:
  epoch: 3
optimizer:
  lr: -1
lora:
  alpha: 0
`;
    const file = p.write('config.yaml', text);
    await assert.rejects(loadConfig(file, { 'runtime.device': 'tpu' }), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      const keys = e.problems.map((q) => q.key);
      assert.deepEqual(keys, [
        'DATASET.TRAIN_PATH',
        'SAM.CHECKPOINT',
        'SAM.RANK',
        'TRAIN.BATCH_SIZE',
        'TRAIN.NUM_EPOCHS',
        'train.epoch',
        'optimizer.lr',
        'lora.alpha',
        'runtime.device',
      ]);
      assert.match(e.message, /\(9 problems\)/);
      for (const q of e.problems) assert.ok(e.message.includes(`${q.key}: ${q.message}`));
      assert.equal(e.problems.at(-1)!.source, 'command line');
      return true;
    });
  });
});
