// `sam-lora train` without --workers: the whole run in this process, the training loop driving
// in-process workers through the same WorkerEndpoint contract that remote workers implement.

import { type LocalRunOptions, prepareRun, trainerFor } from '../coordinator/prepare_run.js';
import type { Summary } from '../coordinator/trainer.js';
import { WorkerPool } from '../coordinator/worker_pool.js';
import { runtimeOptions } from '../shared/contract/runtime_options.js';
import { LocalWorker } from '../worker/local_worker.js';

export async function runLocal(o: LocalRunOptions): Promise<Summary> {
  const p = await prepareRun(o);
  const pool = WorkerPool.forwarding(1, o.events, (e) => {
    if (e.kind === 'evicted') o.progress?.(`worker ${e.id} left: ${e.reason}`);
  });
  const workers = Array.from(
    { length: o.workers ?? 1 },
    (_, i) =>
      new LocalWorker({
        id: `local-${i}`,
        config: p.config,
        model: p.model,
        datasets: { train: p.train, ...(p.test ? { test: p.test } : {}) },
        runtime: runtimeOptions(p.config),
      }),
  );
  for (const w of workers) pool.add(w);
  try {
    return await trainerFor(p, pool, o).run();
  } finally {
    await pool.closeAll();
  }
}
