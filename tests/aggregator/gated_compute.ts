// A worker's compute whose training steps on direct sessions (not through `aggregator`) wait for a
// gate before they run: a test holds a demoted worker's step until the worker decided to return to
// its aggregator, so the run cannot end while the worker is still direct.

import type { ComputeProvider, PreparedCompute, SessionCompute } from '../../worker/session_compute.js';

export function gatedDirectSteps(inner: ComputeProvider, aggregator: string, gate: () => Promise<void>): ComputeProvider {
  return {
    device: inner.device,
    close: () => inner.close(),
    async prepare(reply, address, log, signal): Promise<PreparedCompute> {
      const prepared = await inner.prepare(reply, address, log, signal);
      if (address === aggregator) return prepared;
      return {
        ...prepared,
        async start(): Promise<SessionCompute> {
          const c = await prepared.start();
          return {
            adoptWeights: (version, params, shapes) => c.adoptWeights(version, params, shapes),
            setWeights: (version, params) => c.setWeights(version, params),
            trainStep: async (work) => {
              await gate();
              return c.trainStep(work);
            },
            evaluate: (work, split) => c.evaluate(work, split),
          };
        },
      };
    },
  };
}
