// Fuzz test of the .pth reader (zip container and pickle): 300 seeded mutated inputs (fuzz_targets.ts, "pth") must each parse or be refused with
// the parser's own clear error, none may take over 2 s, and the process doing it must stay under
// 512 MB (the hostile inputs of issue 16 grew to gigabytes). Runs in a child process with a time limit.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fuzzInChild } from '../helpers/fuzz.js';

describe('fuzzing the .pth reader (zip container and pickle)', () => {
  it('300 mutated inputs: parsed or refused clearly, in bounded time and memory', async () => {
    const report = await fuzzInChild('pth', { seed: 16, iterations: 300, slowMs: 2000, timeoutMs: 90_000 });
    assert.deepEqual(report.findings, [], JSON.stringify(report.findings.slice(0, 3), null, 2));
    assert.equal(report.accepted + report.refused, 300);
    // Mutations must reach past the first check: some inputs are refused and some still parse.
    assert.ok(report.refused > 0 && report.accepted > 0, `accepted ${report.accepted}, refused ${report.refused}`);
    assert.ok(report.maxRssBytes < 512 * 1024 * 1024, `peak RSS ${report.maxRssBytes}`);
  });
});
