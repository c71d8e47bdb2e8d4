// The fuzz harness itself: a parser that throws a foreign error, or takes too long, is a finding.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type FuzzTarget, mutateBytes, runFuzz } from './fuzz.js';
import { Rng } from './rng.js';

class ClearError extends Error {}

const target = (parse: (input: Uint8Array) => Promise<unknown>): FuzzTarget => ({
  seeds: () => Promise.resolve([Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8])]),
  parse,
  isClearError: (e) => e instanceof ClearError,
});

describe('fuzz harness', () => {
  it('counts clear refusals and reports other errors as crashes', async () => {
    const report = await runFuzz(
      target(async (input) => {
        if (input.length % 3 === 0) throw new RangeError('Invalid typed array length');
        if (input.length % 3 === 1) throw new ClearError('refused');
      }),
      { seed: 1, iterations: 60, slowMs: 1000 },
    );
    assert.equal(report.accepted + report.refused + report.findings.length, 60);
    assert.ok(report.findings.length > 0 && report.refused > 0 && report.accepted > 0);
    assert.ok(report.findings.every((f) => f.kind === 'crash' && f.detail.startsWith('RangeError')));
  });

  it('reports a slow input', async () => {
    const report = await runFuzz(
      target(async () => {
        const until = performance.now() + 30;
        while (performance.now() < until);
      }),
      { seed: 1, iterations: 2, slowMs: 10 },
    );
    assert.deepEqual(report.findings.map((f) => f.kind), ['slow', 'slow']);
  });

  it('mutations are deterministic for a seed and change the input', () => {
    const input = Uint8Array.from({ length: 64 }, (_, i) => i);
    const a = Array.from({ length: 20 }, (_, i) => mutateBytes(input, new Rng(i)));
    const b = Array.from({ length: 20 }, (_, i) => mutateBytes(input, new Rng(i)));
    assert.deepEqual(a, b);
    assert.ok(a.some((m) => m.length !== input.length || m.some((v, i) => v !== input[i])));
  });
});
