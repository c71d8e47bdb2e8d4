// Loading configurations: the reference project's config.yaml as is, our own schema, the embedded
// default, the defaults table (code and README agree), overrides, and the run-directory YAML.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { parse as parseYaml } from 'yaml';
import {
  ConfigError,
  DEFAULT_CONFIG_YAML,
  DEFAULT_SOURCE,
  TINY_VARIANT,
  type TrainConfig,
  applyOverrides,
  configToYaml,
  declaredModelConfig,
  defaultRawConfig,
  loadConfig,
  parseConfigText,
  parseSetArgs,
} from '../../shared/config/index.js';
import { validateConfig } from '../../shared/sam/config.js';
import { repoRoot } from '../helpers/fixtures.js';
import { REFERENCE_CONFIG, makeProject } from './project.js';

/** Every default, resolved: what a file setting only the two required keys (to null) gives. */
function expectedDefaults(source: string, baseDir: string): TrainConfig {
  return {
    source,
    model: { checkpoint: null, variant: 'auto', decoderHeads: 8 },
    lora: { rank: 4, alpha: 4, blocks: 'all', targets: ['q', 'v'], decoderTargets: [] },
    train: {
      epochs: 50,
      batchSize: 1,
      objectsPerImage: 1,
      gradAccumulation: 1,
      maxSkippedSteps: 20,
      trainDecoder: false,
      seed: 0,
      prompt: { mode: 'box', points: 1, negativePoints: 0, boxJitter: 20, boxProbability: 0.5 },
      augment: { hflip: 0, brightness: [1, 1], contrast: [1, 1], saturation: [1, 1] },
      loss: 'dice_ce',
      memory: 'all',
      attentionChunkMb: 16,
      microBatch: 1,
    },
    optimizer: { name: 'adam', lr: 1e-4, weightDecay: 0, betas: [0.9, 0.999], eps: 1e-8 },
    schedule: { warmupSteps: 0, cosine: false, minLr: 0 },
    gradClip: { maxNorm: null },
    eval: { intervalSteps: null, intervalEpochs: 1, earlyStopping: { patience: null, minDelta: 0 } },
    checkpoint: { dir: path.join(baseDir, 'runs'), intervalSteps: null, keep: 3 },
    data: { train: null, test: null, format: 'auto', annotations: null, onBadSample: 'fail' },
    runtime: { device: 'cpu', gpu: 0, threads: 0, gpuMemLimit: null, arenaExtendStrategy: 'next_power_of_two', cudnnConvAlgoSearch: 'exhaustive', useTf32: true, precision: 'fp32', lossScale: { initial: 65536, growthInterval: 2000 } },
  };
}

async function rejectsWith(p: Promise<unknown>): Promise<ConfigError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected a ConfigError');
}

describe('reference config.yaml', () => {
  it('loads as is and maps onto our schema, paths relative to the config file', async () => {
    const p = makeProject();
    const file = p.write('config.yaml', REFERENCE_CONFIG);
    // Loaded from another working directory: paths still resolve against the file's directory.
    const c = await loadConfig(file, {}, { cwd: path.parse(p.dir).root });
    const expected = expectedDefaults(file, p.dir);
    expected.model.checkpoint = p.abs('sam_vit_b_01ec64.pth');
    expected.lora = { ...expected.lora, rank: 512, alpha: 512 };
    expected.train = { ...expected.train, batchSize: 1, epochs: 50 };
    expected.data = { ...expected.data, train: p.abs('dataset/train'), test: p.abs('dataset/test') };
    assert.deepEqual(c, expected);
    // ViT-B is not stated: the variant is inferred from the checkpoint's shapes.
    assert.equal(c.model.variant, 'auto');
    assert.equal(declaredModelConfig(c.model), null);
  });

  it('may be extended with sections of ours (each setting once)', async () => {
    const p = makeProject();
    const file = p.write('config.yaml', `${REFERENCE_CONFIG}optimizer:\n  lr: 3.0e-4\nruntime: { device: cuda, gpu: 1 }\n`);
    const c = await loadConfig(file);
    assert.equal(c.optimizer.lr, 3e-4);
    assert.deepEqual(c.runtime, { device: 'cuda', gpu: 1, threads: 0, gpuMemLimit: null, arenaExtendStrategy: 'next_power_of_two', cudnnConvAlgoSearch: 'exhaustive', useTf32: true, precision: 'fp32', lossScale: { initial: 65536, growthInterval: 2000 } });
    assert.equal(c.lora.rank, 512);
  });
});

const FULL = `# every section of our schema
model:
  checkpoint: ./weights/sam.safetensors
  variant: vit_b
  decoder_heads: 8
lora:
  rank: 16
  alpha: 32
  blocks: [0, 1, 10, 11]
  targets: [q, k, v, proj]
  decoder_targets: [q_proj, v_proj]
train:
  epochs: 3
  batch_size: 2
  objects_per_image: 4
  grad_accumulation: 2
  train_decoder: true
  seed: 7
  prompt: { mode: points, points: 3, negative_points: 2, box_jitter: 5, box_probability: 0.25 }
  augment: { hflip: true, brightness: [0.8, 1.2], contrast: [0.9, 1.1], saturation: [1, 1.5] }
  loss: dice_ce
  memory: global
  attention_chunk_mb: 32
  micro_batch: 2
optimizer:
  name: adamw
  lr: 3.0e-4
  weight_decay: 0.01
  betas: [0.8, 0.99]
  eps: 1.0e-6
schedule: { warmup_steps: 100, cosine: true, min_lr: 1.0e-6 }
grad_clip: { max_norm: 1.0 }
eval:
  interval_steps: 50
  early_stopping: { patience: 5, min_delta: 0.001 }
checkpoint: { dir: out/runs, interval_steps: 200, keep: null }
data:
  train: data/train
  test: data/test
  format: coco
  annotations: _annotations.coco.json
  on_bad_sample: skip
runtime: { device: cuda, gpu: 2, threads: 4, use_tf32: false }
`;

function fullProject(): { p: ReturnType<typeof makeProject>; file: string } {
  const p = makeProject();
  p.write('weights/sam.safetensors', 'x');
  p.write('data/train/_annotations.coco.json', '{}');
  p.write('data/test/_annotations.coco.json', '{}');
  return { p, file: p.write('full.yaml', FULL) };
}

describe('our schema', () => {
  it('reads every section', async () => {
    const { p, file } = fullProject();
    const c = await loadConfig(file);
    assert.deepEqual(c, {
      source: file,
      model: { checkpoint: p.abs('weights/sam.safetensors'), variant: 'vit_b', decoderHeads: 8 },
      lora: { rank: 16, alpha: 32, blocks: [0, 1, 10, 11], targets: ['q', 'k', 'v', 'proj'], decoderTargets: ['q_proj', 'v_proj'] },
      train: {
        epochs: 3,
        batchSize: 2,
        objectsPerImage: 4,
        gradAccumulation: 2,
        maxSkippedSteps: 20,
        trainDecoder: true,
        seed: 7,
        prompt: { mode: 'points', points: 3, negativePoints: 2, boxJitter: 5, boxProbability: 0.25 },
        // hflip: true is probability 0.5.
        augment: { hflip: 0.5, brightness: [0.8, 1.2], contrast: [0.9, 1.1], saturation: [1, 1.5] },
        loss: 'dice_ce',
        memory: 'global',
        attentionChunkMb: 32,
        microBatch: 2,
      },
      optimizer: { name: 'adamw', lr: 3e-4, weightDecay: 0.01, betas: [0.8, 0.99], eps: 1e-6 },
      schedule: { warmupSteps: 100, cosine: true, minLr: 1e-6 },
      gradClip: { maxNorm: 1 },
      // interval_steps alone turns the default interval_epochs off.
      eval: { intervalSteps: 50, intervalEpochs: null, earlyStopping: { patience: 5, minDelta: 0.001 } },
      checkpoint: { dir: p.abs('out/runs'), intervalSteps: 200, keep: null },
      data: { train: p.abs('data/train'), test: p.abs('data/test'), format: 'coco', annotations: '_annotations.coco.json', onBadSample: 'skip' },
      runtime: { device: 'cuda', gpu: 2, threads: 4, gpuMemLimit: null, arenaExtendStrategy: 'next_power_of_two', cudnnConvAlgoSearch: 'exhaustive', useTf32: false, precision: 'fp32', lossScale: { initial: 65536, growthInterval: 2000 } },
    });
  });

  it('writes the resolved config as YAML that loads back to the same config', async () => {
    const { file } = fullProject();
    const c = await loadConfig(file);
    const text = configToYaml(c);
    assert.match(text, /^# sam-lora training configuration/);
    assert.match(text, new RegExp(`source: ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    assert.deepEqual(parseConfigText(text, file), c);
    const d = await loadConfig(undefined);
    assert.deepEqual(parseConfigText(configToYaml(d), DEFAULT_SOURCE), d);
  });
});

describe('defaults', () => {
  it('the embedded default: demo data, the bundled small SAM with encoder and decoder adapters, runs/ under the cwd', async () => {
    const p = makeProject();
    const c = await loadConfig(undefined, {}, { cwd: p.dir });
    const expected = expectedDefaults(DEFAULT_SOURCE, p.dir);
    // The demo job's settings (defaults.ts explains each).
    expected.lora.rank = 16;
    expected.lora.alpha = 16;
    expected.lora.decoderTargets = ['q_proj', 'k_proj', 'v_proj', 'out_proj'];
    expected.train.epochs = 12;
    expected.train.batchSize = 4;
    expected.train.prompt.boxJitter = 5;
    expected.train.augment.hflip = 0.5;
    expected.optimizer.lr = 0.004;
    expected.schedule.warmupSteps = 20;
    expected.schedule.cosine = true;
    expected.eval.intervalEpochs = 4;
    assert.deepEqual(c, expected);
    assert.deepEqual(parseYaml(DEFAULT_CONFIG_YAML), {
      model: { checkpoint: null },
      lora: { rank: 16, targets: ['q', 'v'], decoder_targets: ['q_proj', 'k_proj', 'v_proj', 'out_proj'] },
      data: { train: null },
      train: { epochs: 12, batch_size: 4, prompt: { box_jitter: 5 }, augment: { hflip: 0.5 } },
      optimizer: { lr: 0.004 },
      schedule: { warmup_steps: 20, cosine: true },
      eval: { interval_epochs: 4 },
    });
    const tiny = declaredModelConfig(c.model);
    assert.deepEqual(tiny, { ...TINY_VARIANT, dheads: 8 });
    validateConfig(tiny!, 'TINY_VARIANT');
  });

  it('a file fills every key it does not set with its default', async () => {
    const p = makeProject();
    const file = p.write('min.yaml', 'model:\n  checkpoint: null\ndata:\n  train: null\n');
    assert.deepEqual(await loadConfig(file), expectedDefaults(file, p.dir));
    // Empty sections are no change.
    const file2 = p.write('empty-sections.yaml', 'model:\n  checkpoint: null\ndata:\n  train: null\ntrain:\n  augment: {}\nlora:\n');
    assert.deepEqual(await loadConfig(file2), expectedDefaults(file2, p.dir));
  });

  it('README documents every key with the default the code uses', () => {
    const doc = path.join(repoRoot(), 'README.md');
    assert.ok(readFileSync(doc, 'utf8').includes('| `lora.rank` |'), 'README has no defaults table');
    const documented = new Map<string, unknown>();
    for (const line of readFileSync(doc, 'utf8').split('\n')) {
      const m = /^\| `([a-z][a-z0-9_.]*)` \| `([^`]*)` \|/.exec(line);
      if (m) documented.set(m[1]!, parseYaml(m[2]!));
    }
    const leaves = new Map<string, unknown>();
    const walk = (v: unknown, prefix: string): void => {
      if (typeof v === 'object' && v !== null && !Array.isArray(v)) for (const [k, x] of Object.entries(v)) walk(x, prefix ? `${prefix}.${k}` : k);
      else leaves.set(prefix, v);
    };
    walk(defaultRawConfig(), '');
    assert.deepEqual([...documented.keys()].sort(), [...leaves.keys()].sort(), `keys documented in ${doc}`);
    for (const [k, v] of leaves) assert.deepEqual(documented.get(k), v, `default of ${k} in ${doc}`);
  });
});

describe('overrides', () => {
  it('win over the file, in both key forms, and are validated with it', async () => {
    const p = makeProject();
    p.mkdir('other/train');
    const file = p.write('config.yaml', REFERENCE_CONFIG);
    const c = await loadConfig(
      file,
      { 'train.epochs': '3', 'SAM.RANK': '8', 'optimizer.lr': '3e-4', 'lora.targets': '[q, k, v]', 'data.train': 'other/train', 'train.prompt.mode': 'points' },
      { cwd: p.dir },
    );
    assert.equal(c.train.epochs, 3);
    assert.equal(c.lora.rank, 8);
    assert.equal(c.lora.alpha, 8, 'alpha defaults to the (overridden) rank');
    assert.equal(c.optimizer.lr, 3e-4);
    assert.deepEqual(c.lora.targets, ['q', 'k', 'v']);
    assert.equal(c.data.train, p.abs('other/train'), 'override paths resolve against the cwd');
    assert.equal(c.train.prompt.mode, 'points');
    assert.equal(c.train.batchSize, 1);

    const e = await rejectsWith(loadConfig(file, { 'TRAIN.BATCH_SIZE': '0' }));
    assert.deepEqual(e.problems, [{ key: 'TRAIN.BATCH_SIZE', message: 'must be >= 1 (got 0)', source: 'command line' }]);
    assert.match(e.message, /command line: TRAIN\.BATCH_SIZE: must be >= 1/);
  });

  it('the embedded default takes overrides too', async () => {
    const c = await loadConfig(undefined, { 'train.epochs': '1', 'runtime.threads': '2' });
    assert.equal(c.train.epochs, 1);
    assert.equal(c.runtime.threads, 2);
    assert.equal(c.source, DEFAULT_SOURCE);
  });

  it('applyOverrides validates like a file and names unknown keys with a suggestion', async () => {
    const p = makeProject();
    const c = await loadConfig(p.write('config.yaml', REFERENCE_CONFIG));
    const d = applyOverrides(c, { 'train.epochs': '2', 'lora.rank': '16', 'eval.interval_steps': '10' });
    assert.equal(d.train.epochs, 2);
    assert.equal(d.lora.alpha, 16, 'an alpha equal to the rank follows it');
    assert.deepEqual([d.eval.intervalSteps, d.eval.intervalEpochs], [10, null], 'interval_steps turns interval_epochs off');
    assert.equal(c.train.epochs, 50, 'the input config is not modified');
    assert.equal(applyOverrides({ ...c, lora: { ...c.lora, alpha: 3 } }, { 'lora.rank': '16' }).lora.alpha, 3);

    const cases: [Record<string, string>, string, RegExp][] = [
      [{ 'train.batch_size': '0' }, 'train.batch_size', /must be >= 1 \(got 0\)/],
      [{ 'train.epoch': '3' }, 'train.epoch', /unknown key \(did you mean train\.epochs\?\)/],
      [{ 'optimizer.lr': 'fast' }, 'optimizer.lr', /expected a number \(got "fast"\)/],
      [{ 'SAM.RANKS': '4' }, 'SAM.RANKS', /did you mean SAM\.RANK\?/],
      [{ 'data.test': 'nowhere' }, 'data.test', /dataset directory not found: .*nowhere/],
      [{ 'lora.targets': '[q, v' }, 'lora.targets', /cannot parse the value/],
      [{ 'train.memory': 'some' }, 'train.memory', /"none"\|"global"\|"all"|none, global, all/],
      [{ 'train.attention_chunk_mb': '0' }, 'train.attention_chunk_mb', /must be >= 1 \(got 0\)/],
      [{ 'train.micro_batch': '0' }, 'train.micro_batch', /must be >= 1 \(got 0\)/],
      [{ 'train.micro_batch': '1.5' }, 'train.micro_batch', /integer/],
    ];
    for (const [overrides, key, message] of cases) {
      assert.throws(
        () => applyOverrides(c, overrides, { cwd: p.dir }),
        (e: unknown) => {
          assert.ok(e instanceof ConfigError);
          assert.equal(e.problems.length, 1, e.message);
          assert.equal(e.problems[0]!.key, key);
          assert.equal(e.problems[0]!.source, 'command line');
          assert.match(e.problems[0]!.message, message);
          assert.equal(e.file, c.source);
          return true;
        },
      );
    }
  });

  it('parseSetArgs splits key=value and rejects malformed ones', () => {
    assert.deepEqual(parseSetArgs(['train.epochs=3', 'data.train = ./d=1 ']), { 'train.epochs': '3', 'data.train': './d=1' });
    assert.throws(() => parseSetArgs(['train.epochs', '=3', 'a=1', 'a=2']), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.equal(e.problems.length, 3);
      return true;
    });
  });
});
