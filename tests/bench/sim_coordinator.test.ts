// The link simulation's harness on a tiny cluster (2 hosts x 2 GPUs, two small tensors, a 5 ms
// step, shaped links): it completes, through real aggregators the coordinator receives 2 partial
// sums per step (one per host), and the same cluster without groups 4 gradients.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { simulate } from '../../bench/sim_coordinator.js';
import type { SimMode, SimSpec } from '../../bench/sim_spec.js';

const shapes: SimSpec['shapes'] = [
  ['a', [16, 32]],
  ['b', [100]],
];
const gradientBytes = (16 * 32 + 100) * 4;

const spec = (mode: SimMode, lean: boolean): SimSpec => ({ hosts: 2, gpusPerHost: 2, mode, shapes, stepMs: 5, links: { gbps: 1, latencyMs: 0.5, loopbackGbps: 10 }, lean });

describe('bench/sim_coordinator', () => {
  it('runs 2 hosts x 2 GPUs through real aggregators: 2 partials into the coordinator per step', { timeout: 30_000 }, async () => {
    const r = await simulate(spec('aggregators', false), { steps: 2, adam: true, timeoutMs: 25_000 });
    assert.equal(r.steps.length, 2);
    for (const s of r.steps) {
      assert.equal(s.tensorBytesIn, 2 * gradientBytes, 'one partial sum per host');
      assert.equal(s.tensorBytesOut, 2 * gradientBytes, 'one weights version per host');
      assert.ok(s.wireBytesIn! >= s.tensorBytesIn, 'the coordinator NIC counted at least the payload');
      assert.ok(s.stepS >= 0.005, 'a step takes at least the simulated GPU step');
    }
  });

  it('without groups the coordinator receives every GPU gradient, from real clients or lean stand-ins alike', { timeout: 30_000 }, async () => {
    for (const lean of [false, true]) {
      const r = await simulate(spec('direct', lean), { steps: 1, adam: false, timeoutMs: 25_000 });
      assert.equal(r.steps[0]!.tensorBytesIn, 4 * gradientBytes, lean ? 'lean' : 'real');
    }
    const hosts = await simulate(spec('host_endpoints', true), { steps: 1, adam: false, timeoutMs: 25_000 });
    assert.equal(hosts.steps[0]!.tensorBytesIn, 2 * gradientBytes, 'a lean host endpoint sends one partial, as an aggregator does');
  });
});
