// Recomputation and chunked attention (shared/sam/memory.ts) change where activations live, never
// the result: on every fixture, each memory mode's loss and LoRA gradients equal the
// no-recompute graph's within 1e-5 relative, and its serialised graph really recomputes.

import assert from 'node:assert/strict';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { GraphSession } from '../../shared/graph/runtime.js';
import { liveNodes, modelToBytes } from '../../shared/graph/serialize.js';
import { loadSamCheckpoint } from '../../shared/sam/checkpoint.js';
import { defaultLoraSpec } from '../../shared/sam/lora.js';
import { MEMORY_MODES, type MemoryMode, type MemoryOptions } from '../../shared/sam/memory.js';
import { boxPrompt } from '../../shared/sam/preprocess.js';
import { IO, buildTrainingGraph, type SamGraphOptions } from '../../shared/sam/sam_graph.js';
import { readSafetensors } from '../../shared/tensor/safetensors.js';
import { fixtureDirs, readMeta } from '../helpers/fixtures.js';
import { fixtureSamples, imageFeed, lossFeeds, loraFeeds, promptFeeds } from '../helpers/sam_feeds.js';

const REL_TOL = 1e-5;

function maxRel(actual: Float32Array, expected: Float32Array): number {
  assert.equal(actual.length, expected.length);
  let diff = 0;
  let ref = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i]! - expected[i]!));
    ref = Math.max(ref, Math.abs(expected[i]!));
  }
  return diff / Math.max(ref, 1e-30);
}

describe('memory modes: same loss and gradients as the no-recompute graph', () => {
  for (const dir of fixtureDirs()) {
    const name = path.basename(dir);
    it(`${name}: every mode, batch 2, small attention chunks`, async () => {
      const meta = readMeta(dir);
      const ckpt = await loadSamCheckpoint(path.join(dir, 'sam.pth'), { dheads: meta.config.dheads });
      const cfg = ckpt.config;
      const lora = (await readSafetensors(path.join(dir, 'lora.safetensors'))).tensors;
      const [s1, s2] = await fixtureSamples(dir, meta);
      const feeds = {
        [IO.images]: imageFeed([s1, s2], cfg.img),
        ...promptFeeds([boxPrompt(s1.box), boxPrompt(s2.box)]),
        ...lossFeeds([s1, s2], cfg.img),
        ...loraFeeds(lora),
      };
      const g = cfg.img / 16;
      // A quarter of one head's grid rows per chunk, so that heads and rows are both split.
      const chunk = 2 * g * (g * g) * 4 * Math.ceil(g / 4);
      const run = async (mode: MemoryMode): Promise<{ out: Record<string, Float32Array>; nodes: number }> => {
        const memory: MemoryOptions = { mode, attentionChunkBytes: chunk };
        const opts: SamGraphOptions = { config: cfg, state: ckpt.state, lora: defaultLoraSpec(cfg, meta.rank), batch: 2, promptTokens: 2, memory };
        const built = buildTrainingGraph(opts);
        const s = await GraphSession.create(modelToBytes(built.graph), { intraOpThreads: 2 });
        try {
          const r = await s.run(feeds);
          const out: Record<string, Float32Array> = {};
          for (const [k, v] of Object.entries(r)) out[k] = v.data as Float32Array;
          return { out, nodes: liveNodes(built.graph).length };
        } finally {
          await s.release();
        }
      };
      const base = await run('none');
      let lastNodes = base.nodes;
      for (const mode of MEMORY_MODES.filter((m) => m !== 'none')) {
        const got = await run(mode);
        // Each mode recomputes more: the serialised graph grows.
        assert.ok(got.nodes > lastNodes, `${name} ${mode}: ${got.nodes} live nodes, not more than the previous mode's ${lastNodes}`);
        lastNodes = got.nodes;
        for (const key of Object.keys(base.out)) {
          if (key !== IO.loss && !key.startsWith(IO.gradPrefix)) continue;
          const rel = maxRel(got.out[key]!, base.out[key]!);
          assert.ok(rel <= REL_TOL, `${name} ${mode} ${key}: max relative difference ${rel} > ${REL_TOL}`);
        }
      }
    });
  }
});
