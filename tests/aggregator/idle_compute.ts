// A worker's compute for tests of membership only (joins, group sizes, reconnects): it presents the
// coordinator's fingerprint and never computes (a step or evaluation fails), so no model is built.

import type { ComputeProvider, SessionCompute } from '../../worker/session_compute.js';

const idle: SessionCompute = {
  adoptWeights: () => Promise.resolve(),
  setWeights: () => Promise.resolve(),
  trainStep: () => Promise.reject(new Error('an idle test worker computes nothing')),
  evaluate: () => Promise.reject(new Error('an idle test worker computes nothing')),
};

export function idleCompute(): ComputeProvider {
  return {
    device: 'cpu',
    prepare: (reply) => (reply.fingerprint ? Promise.resolve({ loaded: reply.fingerprint, start: () => Promise.resolve(idle) }) : Promise.reject(new Error('no fingerprint'))),
    close: () => Promise.resolve(),
  };
}
