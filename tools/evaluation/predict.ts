// `sam-lora predict`: one image, one prompt (a box and/or points, in the image's pixels), one model
// (the base weights, optionally with a LoRA: the decoder rule of eval_model.ts applies). Writes
// mask.png (0/255 at the original size), overlay.png (the mask filled, the prompt drawn) and, with
// multimask, SAM's three masks as mask_0.png .. mask_2.png, mask.png and the overlay being the one
// with the highest predicted IoU.

import { mkdir, writeFile } from 'node:fs/promises';
import * as path from 'node:path';
import { encodeMaskPng, encodeRgbPng } from '../../shared/data/demo_data.js';
import { decodeImage } from '../../shared/data/image_io.js';
import { type InferencePrompt, prepareForInference } from '../../shared/data/prepare.js';
import type { Box } from '../../shared/data/prompts.js';
import type { RgbImage } from '../../shared/data/types.js';
import { type BaseModelOptions, type EvalModel, baseEvalModel, inferenceFor, loadBaseModel, loadLoraModel } from './eval_model.js';
import { drawBox, drawPoint, renderOverlay } from './overlay.js';
import { errorMessage } from '../../shared/errors/error_message.js';

export interface PointPrompt {
  x: number;
  y: number;
  /** 1 positive (default), 0 negative. */
  label: number;
}

export interface PredictOptions extends BaseModelOptions {
  lora?: string;
  image: string;
  box?: Box;
  points?: readonly PointPrompt[];
  multimask?: boolean;
  out: string;
  progress?: (line: string) => void;
}

export interface PredictResult {
  image: string;
  width: number;
  height: number;
  weights: string;
  lora: string | null;
  decoder: string | null;
  prompt: { box: Box | null; points: [number, number][]; labels: number[] };
  multimask: boolean;
  /** SAM's predicted IoU of each mask. */
  iou: number[];
  /** Index of the mask written to mask.png and drawn in overlay.png. */
  best: number;
  /** Pixels in the chosen mask. */
  area: number;
  files: { mask: string; overlay: string; masks: string[] };
}

/** Bad input (not a usage error): the message says what is wrong; no stack trace wanted. */
export class PredictInputError extends Error {
  override readonly name = 'PredictInputError';
}

/** Checks the prompt against the image size; throws PredictInputError. */
export function checkPrompt(box: Box | undefined, points: readonly PointPrompt[], width: number, height: number): void {
  if (!box && points.length === 0) throw new PredictInputError('no prompt: give --box x0,y0,x1,y1 and/or one or more --point x,y[,label]');
  const frame = `the image is ${width} x ${height} px, so x must lie in 0..${width} and y in 0..${height}`;
  if (box) {
    const [x0, y0, x1, y1] = box;
    if (!(x0 <= x1 && y0 <= y1)) throw new PredictInputError(`box ${box.join(',')} is not x0,y0,x1,y1 with x0 <= x1 and y0 <= y1`);
    if (x0 < 0 || y0 < 0 || x1 > width || y1 > height) throw new PredictInputError(`box ${box.join(',')} lies outside the image: ${frame}`);
  }
  for (const p of points) {
    if (p.x < 0 || p.y < 0 || p.x > width || p.y > height) throw new PredictInputError(`point ${p.x},${p.y} lies outside the image: ${frame}`);
    if (p.label !== 0 && p.label !== 1) throw new PredictInputError(`point ${p.x},${p.y}: label must be 1 (positive) or 0 (negative), got ${p.label}`);
  }
}

async function readImage(file: string): Promise<RgbImage> {
  try {
    return await decodeImage(file);
  } catch (err) {
    throw new PredictInputError(`cannot read the image: ${errorMessage(err)}`);
  }
}

export async function runPredict(o: PredictOptions): Promise<PredictResult> {
  const say = o.progress ?? (() => undefined);
  const points = o.points ?? [];
  if (!o.box && points.length === 0) checkPrompt(undefined, points, 0, 0);
  const image = await readImage(o.image);
  checkPrompt(o.box, points, image.width, image.height);

  const base = await loadBaseModel(o);
  say(`SAM: ${base.description}`);
  const model: EvalModel = o.lora ? await loadLoraModel(o.lora, 'lora', base) : baseEvalModel();
  const prompt: InferencePrompt = {
    ...(o.box ? { box: o.box } : {}),
    ...(points.length ? { points: points.map((p): [number, number] => [p.x, p.y]), labels: points.map((p) => p.label) } : {}),
  };
  const prepared = await prepareForInference({ id: o.image, image }, [prompt], { img: base.sam.img });
  const inference = inferenceFor(model, base);
  let pred;
  try {
    const emb = await inference.encode(prepared.image, model.params);
    pred = await inference.decode(emb, prepared.objects[0]!.prompt, model.params, prepared, o.multimask ?? false);
  } finally {
    await inference.release();
  }

  const n = image.width * image.height;
  const iou = Array.from(pred.iou);
  const best = iou.reduce((b, v, i) => (v > iou[b]! ? i : b), 0);
  const binary = (m: number): Uint8Array => {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = pred.masks[m * n + i]! > 0 ? 1 : 0;
    return out;
  };
  await mkdir(o.out, { recursive: true });
  const files: PredictResult['files'] = { mask: path.join(o.out, 'mask.png'), overlay: path.join(o.out, 'overlay.png'), masks: [] };
  if (o.multimask) {
    for (let m = 0; m < iou.length; m++) {
      const f = path.join(o.out, `mask_${m}.png`);
      await writeFile(f, await encodeMaskPng({ width: image.width, height: image.height, data: binary(m) }));
      files.masks.push(f);
    }
  }
  const chosen = binary(best);
  await writeFile(files.mask, await encodeMaskPng({ width: image.width, height: image.height, data: chosen }));
  const overlay = renderOverlay(image, { fill: chosen });
  if (o.box) drawBox(overlay, o.box);
  for (const p of points) drawPoint(overlay, p.x, p.y, p.label);
  await writeFile(files.overlay, await encodeRgbPng(overlay));

  return {
    image: o.image,
    width: image.width,
    height: image.height,
    weights: base.description,
    lora: model.file,
    decoder: model.decoderFile,
    prompt: { box: o.box ?? null, points: points.map((p) => [p.x, p.y]), labels: points.map((p) => p.label) },
    multimask: o.multimask ?? false,
    iou,
    best,
    area: chosen.reduce((a, v) => a + v, 0),
    files,
  };
}
