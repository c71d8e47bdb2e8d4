// A test that needs an outside tool (openssl, systemd-analyze, docker compose, kubectl). Missing on
// a workstation: a visible skip saying what to install. Missing in CI (the CI variable set): a
// failing test, since .ci/run installs every tool a Debian package provides; a tool no Debian
// package provides stays a skip there, and says so.

import assert from 'node:assert/strict';
import { it } from 'node:test';

export interface ToolNeed {
  /** The command, as messages name it. */
  tool: string;
  /** The Debian package .ci/run installs for it; null when none provides it (usably). */
  debianPackage: string | null;
  /** Why no package, or how to get the tool otherwise. */
  note?: string;
}

/**
 * The `skip` option for the tests needing `need` (false when `found`). In CI, for a tool a package
 * provides, it also registers a failing test saying the tool is missing.
 */
export function skipWithout(found: boolean, need: ToolNeed): string | false {
  if (found) return false;
  const install = need.debianPackage ? `apt-get install --no-install-recommends ${need.debianPackage}` : `no Debian package provides it${need.note ? `: ${need.note}` : ''}`;
  if (process.env.CI && need.debianPackage) {
    it(`${need.tool} is installed (required in CI)`, () => assert.fail(`${need.tool} is required in CI and is missing (${install}; .ci/run installs it)`));
  }
  return `${need.tool} is not installed (${install})`;
}

export const OPENSSL: ToolNeed = { tool: 'openssl', debianPackage: 'openssl' };
export const SYSTEMD_ANALYZE: ToolNeed = { tool: 'systemd-analyze', debianPackage: 'systemd' };
export const DOCKER_COMPOSE: ToolNeed = { tool: 'docker compose (or docker-compose)', debianPackage: 'docker-compose' };
export const KUBECTL_KUSTOMIZE: ToolNeed = {
  tool: 'kubectl (with kustomize)',
  debianPackage: null,
  note: "Debian 12's kubernetes-client is 1.20, whose built-in kustomize (v2.0.3) predates the fields deploy/k8s uses; install kubectl from the Kubernetes apt repository",
};
