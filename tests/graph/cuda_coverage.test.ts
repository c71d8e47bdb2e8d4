// GPU path guarded by construction: every (op, opset, dtype) the training and inference graphs
// emit must have a CUDA kernel in onnxruntime (table: cuda_kernels.ts beside this test), so no node
// silently falls back to the CPU on a GPU worker. Runs without a GPU.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CUDA_KERNELS_SOURCE, cudaAttributeFallback, cudaKernel, cudaProblems } from './cuda_kernels.js';
import { Graph, int, ints } from '../../shared/graph/graph.js';
import { mergeInventories, opInventory } from './op_inventory.js';
import * as op from '../../shared/graph/ops/index.js';
import type { SamConfig } from '../../shared/sam/config.js';
import { generateStateDict } from '../../shared/sam/generated_weights.js';
import { DECODER_TARGETS, ENCODER_TARGETS, type LoraSpec } from '../../shared/sam/lora.js';
import { buildDecoderGraph, buildEncoderGraph, buildInferenceGraph, buildTrainingGraph } from '../../shared/sam/sam_graph.js';

/** The tiny generated variant of tests/coordinator/trainer.test.ts. */
const cfg: SamConfig = { dim: 32, depth: 2, heads: 2, glob: [1], img: 64, window: 2, pdim: 32, dmlp: 64, dheads: 2, iouh: 32 };
const state = generateStateDict(cfg);
/** LoRA on every encoder target of every block and on every decoder attention projection. */
const lora: LoraSpec = { rank: 4, alpha: 4, blocks: [0, 1], targets: [...ENCODER_TARGETS], decoderTargets: [...DECODER_TARGETS] };

function systemGraphs(): { label: string; graph: Graph }[] {
  const common = { config: cfg, state, lora, trainDecoder: true };
  return [
    { label: 'train', graph: buildTrainingGraph({ ...common, batch: 2, promptsPerImage: 2, promptTokens: 2 }).graph },
    { label: 'train_fp16', graph: buildTrainingGraph({ ...common, batch: 2, promptsPerImage: 2, promptTokens: 2, precision: 'fp16' }).graph },
    { label: 'train_points', graph: buildTrainingGraph({ ...common, batch: 2, promptsPerImage: 2, promptTokens: 3, maskInput: true }).graph },
    { label: 'infer', graph: buildInferenceGraph({ ...common, batch: 1, promptsPerImage: 2, promptTokens: 2, multimask: true, maskInput: true }).graph },
    { label: 'encoder', graph: buildEncoderGraph({ config: cfg, state, lora, batch: 1 }).graph },
    { label: 'decoder', graph: buildDecoderGraph({ ...common, batch: 2, promptTokens: 2, multimask: true }).graph },
    { label: 'decoder_single', graph: buildDecoderGraph({ ...common, batch: 1, promptTokens: 3, multimask: false }).graph },
  ];
}

describe('CUDA kernel coverage of the emitted graphs', () => {
  it('every (op, opset, dtype) of the training and inference graphs has a CUDA kernel', () => {
    const graphs = systemGraphs();
    const inventory = mergeInventories(graphs.map(({ label, graph }) => ({ label, inventory: opInventory(graph) })));
    console.log(
      JSON.stringify({
        cudaTable: `${CUDA_KERNELS_SOURCE.repo}@${CUDA_KERNELS_SOURCE.commit}:${CUDA_KERNELS_SOURCE.path}`,
        inventory: inventory.map((e) => ({
          op: e.op,
          opset: e.opset,
          types: e.binding,
          inputs: e.inputs,
          outputs: e.outputs,
          count: e.count,
          kernel: cudaKernel(e.op, e.opset)?.range ?? null,
          graphs: e.graphs,
        })),
      }),
    );
    const uncovered = inventory.flatMap((e) => {
      const problems = cudaProblems(e);
      return problems.length ? [`${e.op} opset ${e.opset} ${JSON.stringify(e.binding ?? { inputs: e.inputs, outputs: e.outputs })}: ${problems.join('; ')}\n    nodes (${e.count}): ${e.nodes.join(', ')}`] : [];
    });
    assert.deepEqual(uncovered, [], `not covered by the CUDA kernel table:\n  ${uncovered.join('\n  ')}`);
    // Every graph is opset 17, ai.onnx only, and every dtype is checked against some constraint.
    for (const { graph } of graphs) assert.equal(graph.opset, 17);
    for (const e of inventory) {
      const bound = new Set(Object.values(e.binding ?? {}));
      for (const d of [...e.inputs, ...e.outputs]) if (d) assert.ok(bound.has(d), `${e.op}: dtype ${d} of a tensor is bound to no constraint`);
    }
  });

  it('no node hits an attribute-based CPU fallback of the CUDA EP', () => {
    const hits = systemGraphs().flatMap(({ label, graph }) =>
      graph.nodes.flatMap((n) => {
        const why = cudaAttributeFallback(n.op, n.attrs);
        return why ? [`${label}:${n.name}: ${why}`] : [];
      }),
    );
    assert.deepEqual(hits, []);
  });
});

describe('CUDA coverage check itself', () => {
  function problemsOf(g: Graph): Map<string, string[]> {
    return new Map(opInventory(g).map((e) => [`${e.op}:${Object.values(e.binding ?? {}).join(',')}`, cudaProblems(e)]));
  }

  it('reports ops, dtypes and opsets without a CUDA kernel', () => {
    const g = new Graph('neg', 17);
    const x = g.input('x', [2, 3]);
    const i = g.input('i', [2, 3], 'int64');
    const b = g.input('b', [2, 3], 'bool');
    g.addNode('MadeUpOp', [x], {}, [{ shape: [2, 3], dtype: 'float32' }]); // not an ONNX op
    op.pad(i, [0, 1, 0, 1]); // Pad [13, 17] on CUDA: T = bool, double, float, float16 (CPU has int64)
    op.where(b, b, b); // Where on CUDA: T has no bool
    op.reduceMean(i, [1]); // ReduceMean [1, 17] on CUDA: T = double, float, float16, int32
    g.addNode('Gather', [x, g.constant([0], [1], 'uint8')], { axis: int(0) }, [{ shape: [1, 3], dtype: 'float32' }]); // Tind = uint8
    g.addNode('Relu', [op.cast(x, 'float64')], {}, [{ shape: [2, 3], dtype: 'float64' }]); // covered: double
    const p = problemsOf(g);
    assert.match(p.get('MadeUpOp:')!.join(), /op not in the CUDAExecutionProvider table/);
    assert.match(p.get('Pad:int64,int64')!.join(), /T = int64 not in the CUDA kernel Pad \[13, 17\]/);
    assert.match(p.get('Where:bool,bool')!.join(), /T = bool not in the CUDA kernel Where 16\+/);
    assert.match(p.get('ReduceMean:int64')!.join(), /T = int64 not in the CUDA kernel ReduceMean \[1, 17\]/);
    assert.match(p.get('Gather:float32,uint8')!.join(), /Tind = uint8 not in/);
    assert.deepEqual(p.get('Relu:float64'), []);
    assert.deepEqual(p.get('Cast:float32,float64'), []);
  });

  it('checks the opset range: an op whose CUDA kernels start later is uncovered at an older opset', () => {
    const g = new Graph('old', 16);
    const x = g.input('x', [2, 4]);
    // Gelu has a CUDA kernel from opset 20 only; at opset 16 the op does not exist in ai.onnx.
    g.addNode('Gelu', [x], {}, [{ shape: [2, 4], dtype: 'float32' }]);
    const [e] = opInventory(g);
    assert.match(cudaProblems(e!).join(), /no CUDA kernel for Gelu at opset 16 \(registered ranges: 20\+\)/);
    assert.equal(cudaKernel('Gelu', 20)?.range, '20+');
    assert.equal(cudaKernel('Softmax', 12)?.range, '[11, 12]');
    assert.equal(cudaKernel('Softmax', 17)?.range, '13+');
  });

  it('binds the right input to each constraint (Slice Tind, Cast T1/T2, LayerNormalization U, Reshape shape)', () => {
    const g = new Graph('bind', 17);
    const x = g.input('x', [2, 4]);
    op.slice(x, [0], [1], [0]);
    op.cast(x, 'int64');
    op.layerNorm(x, g.input('s', [4]), g.input('bias', [4]), 1e-6);
    op.reshape(x, [8]);
    const inv = new Map(opInventory(g).map((e) => [e.op, e]));
    assert.deepEqual(inv.get('Slice')!.binding, { T: 'float32', Tind: 'int64' });
    assert.deepEqual(inv.get('Cast')!.binding, { T1: 'float32', T2: 'int64' });
    assert.deepEqual(inv.get('LayerNormalization')!.binding, { T: 'float32', U: 'float32' });
    assert.deepEqual(inv.get('Reshape')!.binding, { T: 'float32', shape: 'int64' });
    for (const e of inv.values()) assert.deepEqual(cudaProblems(e), [], e.op);
    // A float64 LayerNormalization stash (U = double) is CPU-only at opset 17 on CUDA (U = float).
    const h = new Graph('ln64', 17);
    const y = h.input('y', [2, 4], 'float64');
    h.addNode('LayerNormalization', [y, h.input('s', [4], 'float64')], { axis: int(-1) }, [
      { shape: [2, 4], dtype: 'float64' },
      { shape: [2, 1], dtype: 'float64' },
      { shape: [2, 1], dtype: 'float64' },
    ]);
    assert.match(cudaProblems(opInventory(h)[0]!).join(), /U = double not in the CUDA kernel LayerNormalization 17\+/);
  });

  it('flags the attribute fallbacks of GetCapability', () => {
    assert.match(cudaAttributeFallback('ConvTranspose', { pads: ints([0, 0, 1, 1]) }) ?? '', /asymmetric pads/);
    assert.equal(cudaAttributeFallback('ConvTranspose', { pads: ints([1, 1, 1, 1]) }), undefined);
    assert.match(cudaAttributeFallback('ConvTranspose', { auto_pad: { s: 'SAME_UPPER' } }) ?? '', /auto_pad/);
    assert.match(cudaAttributeFallback('Cast', { to: int(8) }) ?? '', /string/);
  });
});
