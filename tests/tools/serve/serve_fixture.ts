// A running web-demo server for the serve tests: the tiny generated SAM (64 px input) with, by
// default, a q/v LoRA, on 127.0.0.1 and a free port; and a generated test image with its object's box.

import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { DEFAULT_SEGMENTER_LIMITS, Segmenter, type SegmenterLimits } from '../../../tools/serve/segmenter.js';
import { type RunningServer, startServer } from '../../../tools/serve/server.js';
import type { BodyTimeouts } from '../../../tools/serve/request_body.js';
import { loadServeModels } from '../../../tools/serve/serve_models.js';
import { encodeRgbPng, generateDemoSample } from '../../../shared/data/demo_data.js';
import { type Box, maskBounds } from '../../../shared/data/prompts.js';
import { writeLora, writeTinyConfig } from '../evaluation/tiny_model.js';

export interface ServeFixture {
  server: RunningServer;
  /** The server's URL + path. */
  url: (p: string) => string;
  loraFile: string | null;
}

export interface FixtureOptions {
  lora?: boolean;
  maxUploadBytes?: number;
  limits?: Partial<SegmenterLimits>;
  bodyTimeouts?: BodyTimeouts;
}

export async function startFixtureServer(dir: string, o: FixtureOptions = {}): Promise<ServeFixture> {
  mkdirSync(dir, { recursive: true });
  const configPath = writeTinyConfig(dir, 'cfg');
  let loraFile: string | null = null;
  if (o.lora ?? true) {
    loraFile = path.join(dir, 'lora.safetensors');
    await writeLora(loraFile);
  }
  const models = await loadServeModels({ configPath, ...(loraFile ? { lora: loraFile } : {}) });
  const segmenter = new Segmenter(models, { ...DEFAULT_SEGMENTER_LIMITS, ...o.limits });
  const server = await startServer(segmenter, models.info, { host: '127.0.0.1', port: 0, maxUploadBytes: o.maxUploadBytes ?? 1 << 20, ...(o.bodyTimeouts ? { bodyTimeouts: o.bodyTimeouts } : {}) });
  return { server, url: (p) => new URL(p, server.url).toString(), loraFile };
}

export interface TestImage {
  file: string;
  bytes: Buffer;
  width: number;
  height: number;
  /** The tight box of the generated object. */
  box: Box;
}

/** A generated demo image (one ring, ellipse or polygon on a textured background), PNG. */
export async function writeTestImage(dir: string, size = 96, index = 1): Promise<TestImage> {
  const s = generateDemoSample(4, 'test', index, size);
  const bytes = await encodeRgbPng(s.image);
  const file = path.join(dir, `image-${size}-${index}.png`);
  writeFileSync(file, bytes);
  return { file, bytes, width: size, height: size, box: maskBounds(s.mask)! };
}
