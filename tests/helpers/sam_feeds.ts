// Feeds for SAM graphs built from fixture samples (shared by the parity and model tests).

import type { Feed } from '../../shared/graph/runtime.js';
import { normalizeAndPad, padMask, type PromptTokens } from '../../shared/sam/preprocess.js';
import { IO } from '../../shared/sam/sam_graph.js';
import type { HostTensor } from '../../shared/tensor/host_tensor.js';
import type { FixtureMeta } from './fixtures.js';

export interface Sample {
  image: HostTensor;
  gt: HostTensor;
  box: [number, number, number, number];
  meta: FixtureMeta['sample1'];
}

export function promptFeeds(prompts: PromptTokens[]): Record<string, Feed> {
  const p = prompts[0]!.count;
  const coords = new Float32Array(prompts.length * p * 2);
  const labels = new Float32Array(prompts.length * p * 5);
  prompts.forEach((t, i) => {
    coords.set(t.coords, i * p * 2);
    labels.set(t.labelsOneHot, i * p * 5);
  });
  return {
    [IO.coords]: { data: coords, shape: [prompts.length, p, 2] },
    [IO.labels]: { data: labels, shape: [prompts.length, p, 5] },
  };
}

export function imageFeed(samples: Sample[], img: number): Feed {
  const data = new Float32Array(samples.length * 3 * img * img);
  samples.forEach((s, i) => data.set(normalizeAndPad(s.image.data, s.meta.input_size[0], s.meta.input_size[1], img), i * 3 * img * img));
  return { data, shape: [samples.length, 3, img, img] };
}

export function lossFeeds(samples: Sample[], img: number): Record<string, Feed> {
  const gt = new Float32Array(samples.length * img * img);
  const valid = new Float32Array(samples.length * img * img);
  samples.forEach((s, i) => {
    const pm = padMask(s.gt.data, s.meta.input_size[0], s.meta.input_size[1], img);
    gt.set(pm.mask, i * img * img);
    valid.set(pm.valid, i * img * img);
  });
  return {
    [IO.gt]: { data: gt, shape: [samples.length, img, img] },
    [IO.valid]: { data: valid, shape: [samples.length, img, img] },
    [IO.weights]: { data: new Float32Array(samples.length).fill(1 / samples.length), shape: [samples.length] },
  };
}

export function loraFeeds(lora: ReadonlyMap<string, HostTensor>): Record<string, Feed> {
  const f: Record<string, Feed> = {};
  for (const [k, t] of lora) f[k] = { data: t.data, shape: t.shape };
  return f;
}

/** Sample 1 of a fixture (inputs.safetensors) and sample 2 (trajectory.safetensors). */
export async function fixtureSamples(dir: string, meta: FixtureMeta): Promise<[Sample, Sample]> {
  const { readSafetensors } = await import('../../shared/tensor/safetensors.js');
  const inputs = (await readSafetensors(`${dir}/inputs.safetensors`)).tensors;
  const traj = (await readSafetensors(`${dir}/trajectory.safetensors`)).tensors;
  const need = (m: Map<string, HostTensor>, k: string, file: string): HostTensor => {
    const t = m.get(k);
    if (!t) throw new Error(`${dir}/${file}: missing ${k}`);
    return t;
  };
  return [
    { image: need(inputs, 'image', 'inputs'), gt: need(inputs, 'gt_mask', 'inputs'), box: Array.from(need(inputs, 'box', 'inputs').data) as Sample['box'], meta: meta.sample1 },
    { image: need(traj, 'image2', 'trajectory'), gt: need(traj, 'gt_mask2', 'trajectory'), box: Array.from(need(traj, 'box2', 'trajectory').data) as Sample['box'], meta: meta.sample2 },
  ];
}
