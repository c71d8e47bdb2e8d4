// promtool (Debian's `prometheus` package) for the tests that lint metrics, rules and scrape
// configs with Prometheus's own checker. Missing: a visible skip on a workstation, a failure in CI
// (.ci/run installs it).

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import type { TestContext } from 'node:test';
import { findExecutable } from '../../worker/metrics/gpu_query.js';

const INSTALL = 'apt-get install --no-install-recommends prometheus';

/** promtool's path, or undefined after marking the test skipped (outside CI). */
export function promtoolOrSkip(t: TestContext): string | undefined {
  const promtool = findExecutable('promtool');
  if (promtool) return promtool;
  if (process.env.CI) assert.fail(`promtool is required in CI and is missing (${INSTALL}; .ci/run installs it)`);
  t.skip(`promtool not installed (${INSTALL})`);
  return undefined;
}

/** Runs promtool; fails the test with its output when it exits non-zero. */
export function promtool(bin: string, args: string[], input?: string): string {
  const r = spawnSync(bin, args, { input, encoding: 'utf8', timeout: 30_000 });
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`;
  assert.equal(r.status, 0, `promtool ${args.join(' ')} failed:\n${out}`);
  return out;
}
