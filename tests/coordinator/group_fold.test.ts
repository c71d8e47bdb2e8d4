// The first level of the reduction: a folded group is exactly what the coordinator's reduction
// would have added for those results (bit for bit), groups keep their order, singletons pass
// through, and endpoints are put in group order without reordering within a group.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { foldByGroup, foldResults, inGroupOrder } from '../../coordinator/group_fold.js';
import { reduceResults } from '../../coordinator/reduce.js';
import type { StepResult } from '../../shared/contract/worker_endpoint.js';

const shapes = new Map<string, readonly number[]>([['a', [3]], ['b', [2]]]);

function result(seed: number, samples = 1): StepResult {
  const values = (n: number): Float32Array => Float32Array.from({ length: n }, (_, i) => Math.fround(Math.sin(seed * 7.3 + i) * 10 ** ((seed + i) % 5)));
  return {
    step: 3,
    grads: new Map([['a', values(3)], ['b', values(2)]]),
    weightSum: 0.3 * (seed + 1),
    lossSum: 0.7 * seed,
    samples: Array.from({ length: samples }, (_, i) => ({ id: `s${seed}-${i}`, loss: 1, weight: 1 })),
    failed: [],
    computeSeconds: samples,
    weightsHash: 'h',
  };
}

describe('group fold', () => {
  it('a group folded first reduces to the same bits as the coordinator adding the same tree', () => {
    const rs = [0, 1, 2, 3].map((s) => result(s));
    const viaGroups = reduceResults([foldResults(rs.slice(0, 2)), foldResults(rs.slice(2))], shapes);
    const viaLabels = reduceResults(foldByGroup(rs, (r) => (rs.indexOf(r) < 2 ? 'g0' : 'g1')), shapes);
    for (const k of shapes.keys()) assert.deepEqual(viaLabels.grads.get(k), viaGroups.grads.get(k));
    assert.equal(viaLabels.weight, viaGroups.weight);
    // One group is exactly today's sequential sum.
    const flat = reduceResults(rs, shapes);
    const one = reduceResults(foldByGroup(rs, () => 'host'), shapes);
    for (const k of shapes.keys()) assert.deepEqual(one.grads.get(k), flat.grads.get(k));
    assert.equal(one.weight, flat.weight);
    assert.equal(one.loss, flat.loss);
  });

  it('keeps the outcomes, sums the weights and gives the group the sum of its members’ rates', () => {
    const f = foldResults([result(1, 2), result(2, 1)]);
    assert.deepEqual(f.samples.map((s) => s.id), ['s1-0', 's1-1', 's2-0']);
    assert.equal(f.weightSum, 0 + 0.3 * 2 + 0.3 * 3);
    // 2 samples in 2 s and 1 in 1 s: 2 samples/s together, so 3 samples take 1.5 s.
    assert.equal(f.computeSeconds, 1.5);
    assert.equal(f.weightsHash, 'h');
    assert.equal(foldResults([result(1), { ...result(2), weightsHash: 'other' }]).weightsHash, undefined, 'members that disagree give no hash');
  });

  it('reuses fitting arrays, overwriting them, and allocates when they do not fit', () => {
    const rs = [result(0), result(1)];
    const first = foldResults(rs);
    const again = foldResults(rs, first.grads);
    assert.equal(again.grads, first.grads, 'the same arrays');
    assert.deepEqual(again.grads.get('a'), foldResults(rs).grads.get('a'), 'overwritten, not added to');
    const other = new Map([['a', new Float32Array(2)]]);
    assert.notEqual(foldResults(rs, other).grads, other);
  });

  it('refuses results that do not fit together', () => {
    const r = result(1);
    assert.throws(() => foldResults([]), /no result/);
    assert.throws(() => foldResults([r, { ...result(2), step: 4 }]), /step 4 among results of step 3/);
    assert.throws(() => foldResults([r, { ...result(2), grads: new Map([['a', new Float32Array(3)], ['c', new Float32Array(2)]]) }]), /no gradient for b/);
    assert.throws(() => foldResults([r, { ...result(2), grads: new Map([['a', new Float32Array(4)], ['b', new Float32Array(2)]]) }]), /a has 4 values, expected 3/);
  });

  it('passes singletons and the first group through, and orders endpoints by group, stably', () => {
    const rs = [result(0), result(1), result(2)];
    const out = foldByGroup(rs, (r) => r.samples[0]!.id);
    assert.equal(out.length, 3);
    out.forEach((r, i) => assert.equal(r, rs[i]));
    const mixed = [result(0), result(1), result(2), result(3)];
    const folded = foldByGroup(mixed, (r) => (r === mixed[0] || r === mixed[1] ? 'a' : 'b'));
    assert.equal(folded.length, 3, 'group a as it is, group b folded');
    assert.equal(folded[0], mixed[0]);
    assert.equal(folded[1], mixed[1]);
    assert.deepEqual(folded[2]!.samples.map((x) => x.id), ['s2-0', 's3-0']);
    assert.deepEqual(foldByGroup([], () => 'a'), []);
    const e = (id: string, group?: string): { id: string; placement?: { group?: string } } => ({ id, ...(group !== undefined ? { placement: { group } } : {}) });
    assert.deepEqual(inGroupOrder([e('w1', 'b'), e('w2', 'a'), e('w3', 'b'), e('w4', 'a')]).map((x) => x.id), ['w2', 'w4', 'w1', 'w3']);
    assert.deepEqual(inGroupOrder([e('l0'), e('l1'), e('l2')]).map((x) => x.id), ['l0', 'l1', 'l2']);
  });
});
