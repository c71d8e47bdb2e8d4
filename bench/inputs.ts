// Models and feeds for the benchmark: a fixture's checkpoint and real samples (inputs.safetensors,
// trajectory.safetensors), or generated weights and synthetic images; one box prompt per image;
// LoRA from initLora with B made non-zero so the gradient path does real work.

import { existsSync } from 'node:fs';
import * as path from 'node:path';
import type { Feed } from '../shared/graph/runtime.js';
import { Rng } from '../shared/random/rng.js';
import { loadSamCheckpoint } from '../shared/sam/checkpoint.js';
import { type SamConfig, VARIANTS } from '../shared/sam/config.js';
import { defaultLoraSpec, initLora, type LoraSpec } from '../shared/sam/lora.js';
import { boxPrompt, normalizeAndPad, padMask } from '../shared/sam/preprocess.js';
import { IO } from '../shared/sam/sam_graph.js';
import type { HostTensor } from '../shared/tensor/host_tensor.js';
import { readSafetensors } from '../shared/tensor/safetensors.js';
import { readMeta } from '../tests/helpers/fixtures.js';
import { promptFeeds as promptTokenFeeds } from '../tests/helpers/sam_feeds.js';
import { generateStateDict } from '../shared/sam/generated_weights.js';

export const LORA_RANK = 4;

/** One image in the resized frame: RGB 0..255 [3, h, w], mask [h, w], box x0, y0, x1, y1. */
export interface Sample {
  image: Float32Array;
  gt: Float32Array;
  h: number;
  w: number;
  box: [number, number, number, number];
  synthetic: boolean;
}

export interface BenchModel {
  /** The fixture directory name, or the generated variant's name. */
  name: string;
  config: SamConfig;
  /** A Map the benchmark empties once the model file holds the weights. */
  state: Map<string, HostTensor>;
  /** At least one sample; batches cycle through them. */
  samples: Sample[];
}

/** Generated variants (no checkpoint needed): the official configs with seeded weights. */
export const GENERATED = { vit_b: VARIANTS.vit_b, vit_h: VARIANTS.vit_h } as const;
export type GeneratedName = keyof typeof GENERATED;
/**
 * What --full adds. ViT-H runs only when asked for by name (--only vit_h --memory all): its weights
 * are 2.5 GB and a step without recomputation would need far more than a 24 GB host has.
 */
export const FULL_GENERATED: readonly GeneratedName[] = ['vit_b'];

/** Random noise image with an elliptical object inside a box; sizes in the resized frame. */
export function syntheticSample(h: number, w: number, seed: number): Sample {
  const rng = new Rng(seed);
  const image = new Float32Array(3 * h * w);
  for (let i = 0; i < image.length; i++) image[i] = rng.next() * 255;
  const x0 = Math.floor(w * 0.2);
  const y0 = Math.floor(h * 0.25);
  const x1 = Math.floor(w * 0.7);
  const y1 = Math.floor(h * 0.8);
  const gt = new Float32Array(h * w);
  const cx = (x0 + x1) / 2;
  const cy = (y0 + y1) / 2;
  const rx = (x1 - x0) / 2;
  const ry = (y1 - y0) / 2;
  for (let y = y0; y < y1; y++) {
    for (let x = x0; x < x1; x++) if (((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 <= 1) gt[y * w + x] = 1;
  }
  return { image, gt, h, w, box: [x0, y0, x1, y1], synthetic: true };
}

function realSample(t: Map<string, HostTensor>, suffix: string, inputSize: [number, number]): Sample | undefined {
  const image = t.get(`image${suffix}`);
  const gt = t.get(`gt_mask${suffix}`);
  const box = t.get(`box${suffix}`);
  if (!image || !gt || !box) return undefined;
  const [h, w] = inputSize;
  if (image.data.length !== 3 * h * w || gt.data.length !== h * w) return undefined;
  return { image: image.data, gt: gt.data, h, w, box: Array.from(box.data) as Sample['box'], synthetic: false };
}

/** A fixture directory: its checkpoint, sample 1 (inputs) and sample 2 (trajectory), synthetic where absent. */
export async function loadFixtureModel(dir: string): Promise<BenchModel> {
  const meta = readMeta(dir);
  const ckpt = await loadSamCheckpoint(path.join(dir, 'sam.pth'), { dheads: meta.config.dheads });
  const cfg = ckpt.config;
  const read = async (file: string): Promise<Map<string, HostTensor>> =>
    existsSync(path.join(dir, file)) ? (await readSafetensors(path.join(dir, file))).tensors : new Map<string, HostTensor>();
  const s1 = realSample(await read('inputs.safetensors'), '', meta.sample1.input_size) ?? syntheticSample(cfg.img, cfg.img, 1);
  const s2 = realSample(await read('trajectory.safetensors'), '2', meta.sample2.input_size) ?? syntheticSample(cfg.img, Math.round(cfg.img * 0.75), 2);
  return { name: path.basename(dir), config: cfg, state: ckpt.state, samples: [s1, s2] };
}

/** A generated variant: seeded weights and two synthetic images (landscape and portrait). */
export function generatedModel(name: GeneratedName): BenchModel {
  const cfg = GENERATED[name];
  const img = cfg.img;
  return {
    name,
    config: cfg,
    state: generateStateDict(cfg, 1),
    samples: [syntheticSample(Math.round(img * 0.75), img, 1), syntheticSample(img, Math.round(img * 0.66), 2)],
  };
}

/** `batch` samples, cycling through the model's. */
export function batchSamples(model: BenchModel, batch: number): Sample[] {
  return [...Array(batch).keys()].map((i) => model.samples[i % model.samples.length]!);
}

export function benchLoraSpec(cfg: SamConfig): LoraSpec {
  return defaultLoraSpec(cfg, LORA_RANK);
}

/** initLora(cfg, spec, 0) with B ~ small random (initLora leaves it zero), so gradients flow through A too. */
export function benchLora(cfg: SamConfig, spec: LoraSpec): Map<string, HostTensor> {
  const lora = initLora(cfg, spec, 0);
  const rng = new Rng(12345);
  for (const [key, t] of lora) {
    if (key.includes('.b_')) for (let i = 0; i < t.data.length; i++) t.data[i] = rng.uniform(-0.01, 0.01);
  }
  return lora;
}

function imageFeed(samples: Sample[], img: number): Feed {
  const data = new Float32Array(samples.length * 3 * img * img);
  samples.forEach((s, i) => data.set(normalizeAndPad(s.image, s.h, s.w, img), i * 3 * img * img));
  return { data, shape: [samples.length, 3, img, img] };
}

function promptFeeds(samples: Sample[]): Record<string, Feed> {
  return promptTokenFeeds(samples.map((s) => boxPrompt(s.box)));
}

function lossFeeds(samples: Sample[], img: number): Record<string, Feed> {
  const gt = new Float32Array(samples.length * img * img);
  const valid = new Float32Array(samples.length * img * img);
  samples.forEach((s, i) => {
    const pm = padMask(s.gt, s.h, s.w, img);
    gt.set(pm.mask, i * img * img);
    valid.set(pm.valid, i * img * img);
  });
  return {
    [IO.gt]: { data: gt, shape: [samples.length, img, img] },
    [IO.valid]: { data: valid, shape: [samples.length, img, img] },
    [IO.weights]: { data: new Float32Array(samples.length).fill(1 / samples.length), shape: [samples.length] },
  };
}

function loraFeeds(lora: Map<string, HostTensor>): Record<string, Feed> {
  const f: Record<string, Feed> = {};
  for (const [k, t] of lora) f[k] = { data: t.data, shape: t.shape };
  return f;
}

/** Tokens per box prompt (two corners). */
export const BOX_TOKENS = 2;

/** Feeds of the inference graph: images, one box per image, LoRA. */
export function forwardFeeds(cfg: SamConfig, samples: Sample[], lora: Map<string, HostTensor>): Record<string, Feed> {
  return { [IO.images]: imageFeed(samples, cfg.img), ...promptFeeds(samples), ...loraFeeds(lora) };
}

/** Feeds of the training graph: the inference feeds plus masks, valid regions and weights 1/B. */
export function trainFeeds(cfg: SamConfig, samples: Sample[], lora: Map<string, HostTensor>): Record<string, Feed> {
  return { ...forwardFeeds(cfg, samples, lora), ...lossFeeds(samples, cfg.img) };
}
