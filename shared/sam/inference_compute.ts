// Inference on the worker: one encoder pass per image, then the decoder once per prompt, with the
// current trainable weights fed at run time (so evaluation during training needs no rebuild).

import { sessionForGraph } from '../graph/session_factory.js';
import { asFloat32, type Feed, type GraphSession, type RuntimeOptions } from '../graph/runtime.js';
import { type SamConfig, gridSize, lowResSize } from './config.js';
import type { LoraSpec } from './lora.js';
import type { StateDict } from './params.js';
import { postprocessMask } from './postprocess.js';
import { LABEL_SLOTS } from './prompt_encoder.js';
import type { PromptTokens } from './preprocess.js';
import { IO, type BuiltGraph, buildDecoderGraph, buildEncoderGraph } from './sam_graph.js';

export interface InferenceComputeOptions {
  config: SamConfig;
  /** The frozen weights, or where to get them when a graph is built (a holder that may have dropped them). */
  state: StateDict | (() => Promise<StateDict>);
  lora?: LoraSpec;
  /** The decoder's weights are fed at run time (it is being trained). */
  trainDecoder?: boolean;
  runtime: RuntimeOptions;
}

export interface MaskPrediction {
  /** [M, 4g, 4g] low-res logits. */
  lowRes: Float32Array;
  /** [M] predicted IoU. */
  iou: Float32Array;
  /** [M, H, W] logits at the original size (threshold 0 for the mask). */
  masks: Float32Array;
}

interface Loaded {
  session: GraphSession;
  inputs: BuiltGraph['trainable'];
}

export class InferenceCompute {
  private encoder?: Loaded;
  private readonly decoders = new Map<string, Loaded>();

  constructor(private readonly opts: InferenceComputeOptions) {}

  private async frozen(): Promise<StateDict> {
    const s = this.opts.state;
    return typeof s === 'function' ? s() : s;
  }

  private async encoderSession(): Promise<Loaded> {
    if (!this.encoder) {
      const built = buildEncoderGraph({ config: this.opts.config, state: await this.frozen(), lora: this.opts.lora, batch: 1 });
      this.encoder = { session: await sessionForGraph(built.graph, this.opts.runtime), inputs: built.trainable };
    }
    return this.encoder;
  }

  private async decoderSession(tokens: number, multimask: boolean): Promise<Loaded> {
    const key = `${tokens}|${multimask}`;
    let d = this.decoders.get(key);
    if (!d) {
      const o = this.opts;
      const built = buildDecoderGraph({ config: o.config, state: await this.frozen(), lora: o.lora, trainDecoder: o.trainDecoder, batch: 1, promptTokens: tokens, multimask });
      d = { session: await sessionForGraph(built.graph, o.runtime), inputs: built.trainable };
      this.decoders.set(key, d);
    }
    return d;
  }

  /** image: [3, img, img] normalised and padded -> embeddings [C * g * g]. */
  async encode(image: Float32Array, params: ReadonlyMap<string, Float32Array>): Promise<Float32Array> {
    const img = this.opts.config.img;
    const enc = await this.encoderSession();
    const feeds: Record<string, Feed> = { [IO.images]: { data: image, shape: [1, 3, img, img] }, ...weightFeeds(enc.inputs, params) };
    return asFloat32(await enc.session.run(feeds), IO.embeddings);
  }

  /** Decodes one prompt against an image's embeddings and post-processes to the original size. */
  async decode(
    embeddings: Float32Array,
    prompt: PromptTokens,
    params: ReadonlyMap<string, Float32Array>,
    frame: { inputSize: [number, number]; originalSize: [number, number] },
    multimask = false,
  ): Promise<MaskPrediction> {
    const cfg = this.opts.config;
    const g = gridSize(cfg);
    const dec = await this.decoderSession(prompt.count, multimask);
    const feeds: Record<string, Feed> = {
      [IO.embeddings]: { data: embeddings, shape: [1, cfg.pdim, g, g] },
      [IO.coords]: { data: prompt.coords, shape: [1, prompt.count, 2] },
      [IO.labels]: { data: prompt.labelsOneHot, shape: [1, prompt.count, LABEL_SLOTS] },
      ...weightFeeds(dec.inputs, params),
    };
    const r = await dec.session.run(feeds);
    const lowRes = asFloat32(r, IO.lowRes);
    const iou = asFloat32(r, IO.iou);
    const low = lowResSize(cfg);
    const [H, W] = frame.originalSize;
    const masks = new Float32Array(iou.length * H * W);
    for (let m = 0; m < iou.length; m++) {
      masks.set(postprocessMask(lowRes.subarray(m * low * low, (m + 1) * low * low), low, cfg.img, frame.inputSize, frame.originalSize), m * H * W);
    }
    return { lowRes, iou, masks };
  }

  async release(): Promise<void> {
    await this.encoder?.session.release();
    for (const d of this.decoders.values()) await d.session.release();
    this.encoder = undefined;
    this.decoders.clear();
  }
}

function weightFeeds(inputs: BuiltGraph['trainable'], params: ReadonlyMap<string, Float32Array>): Record<string, Feed> {
  const feeds: Record<string, Feed> = {};
  for (const t of inputs) {
    const p = params.get(t.key);
    if (!p) throw new Error(`inference: no value for ${t.key}`);
    feeds[t.key] = { data: p, shape: t.shape };
  }
  return feeds;
}
