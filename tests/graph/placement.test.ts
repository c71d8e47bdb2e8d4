import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { Graph } from '../../shared/graph/graph.js';
import * as op from '../../shared/graph/ops/index.js';
import { describePlacement, placementFromProfile } from '../../shared/graph/placement.js';
import { GraphSession } from '../../shared/graph/runtime.js';
import { modelToBytes } from '../../shared/graph/serialize.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'samlora-placement-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

test('reads each node\'s execution provider from a real ORT profile', async () => {
  const g = new Graph('placement');
  const x = g.input('x', [2, 3]);
  g.output(op.relu(op.add(op.mul(x, 2), 1)), 'y');
  const s = await GraphSession.create(modelToBytes(g), { profilePrefix: path.join(tmp, 'p'), optimization: 'disabled' });
  await s.run({ x: { data: new Float32Array(6), shape: [2, 3] } });
  s.endProfiling();
  await s.release();
  const file = readdirSync(tmp).find((f) => f.endsWith('.json'))!;
  const p = placementFromProfile(path.join(tmp, file));
  assert.equal(p.byProvider.get('CPUExecutionProvider'), 4); // Mul, Add, Relu and the output's Identity
  assert.equal(describePlacement(p), 'node placement: 4 on CPUExecutionProvider');
});

test('a GPU worker with nodes left on the CPU names their op types', () => {
  const file = path.join(tmp, 'mixed.json');
  const ev = (name: string, op: string, provider: string): object => ({ cat: 'Node', name: `${name}_kernel_time`, args: { op_name: op, provider } });
  writeFileSync(file, JSON.stringify([ev('a', 'MatMul', 'CUDAExecutionProvider'), ev('b', 'Add', 'CUDAExecutionProvider'), ev('c', 'Pad', 'CPUExecutionProvider')]));
  assert.equal(describePlacement(placementFromProfile(file)), 'node placement: 2 on CUDAExecutionProvider, 1 on CPUExecutionProvider (on the CPU: Pad)');
});
