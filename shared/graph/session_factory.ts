// Turns a built graph into a session: in memory when the weights are small, through a model file
// with external data beside it when they are not (protobuf's 2 GB limit; ViT-H is 2.5 GB).

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import type { Graph } from './graph.js';
import { GraphSession, type RuntimeOptions } from './runtime.js';
import { modelToBytes, saveModel } from './serialize.js';

const IN_MEMORY_LIMIT = 1024 * 2 ** 20;

export async function sessionForGraph(graph: Graph, opts: RuntimeOptions = {}, dir?: string): Promise<GraphSession> {
  if (graph.initializerBytes() < IN_MEMORY_LIMIT) return GraphSession.create(modelToBytes(graph), opts);
  const own = dir === undefined;
  const where = dir ?? mkdtempSync(path.join(tmpdir(), 'samlora-model-'));
  const file = path.join(where, `${graph.name}.onnx`);
  try {
    saveModel(graph, file);
    return await GraphSession.create(file, opts);
  } finally {
    // ORT has read (or mapped and copied) the weights by the time the session exists.
    if (own) rmSync(where, { recursive: true, force: true });
  }
}
