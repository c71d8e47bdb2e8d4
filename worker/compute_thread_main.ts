// The compute thread's entry (started by ThreadedWorker, compute_thread.ts): sets up its own model
// (the checkpoint, or the bundled base model) and datasets from the plain-data init, runs a LocalWorker,
// and answers requests one at a time, in the order they arrive. ORT's session.run blocks this
// thread's event loop, not the main thread's.

import { type MessagePort, parentPort, workerData } from 'node:worker_threads';
import { setupModel } from '../shared/contract/model_setup.js';
import type { TrainConfig } from '../shared/config/index.js';
import { type Dataset, openDataset } from '../shared/data/dataset.js';
import { buffersOf, type ComputeReply, type ComputeRequest, type ComputeThreadInit, reviveSampleBytes, toWireError } from './compute_thread_protocol.js';
import { LocalWorker } from './local_worker.js';
import { createLogger } from '../shared/log/logger.js';

function open(dir: string, config: TrainConfig): Promise<Dataset> {
  return openDataset({ path: dir, format: config.data.format === 'auto' ? undefined : config.data.format, annotations: config.data.annotations ?? undefined });
}

async function setUp(init: ComputeThreadInit): Promise<LocalWorker> {
  const model = await setupModel(init.config);
  const datasets: { train?: Dataset; test?: Dataset } = {};
  if (init.train) datasets.train = await open(init.train, init.config);
  if (init.test) datasets.test = await open(init.test, init.config);
  return new LocalWorker({
    id: init.id,
    config: init.config,
    // This thread's own copy of the weights: the worker may drop it between graph builds.
    model: { sam: model.sam, state: model.state, reloadState: model.loadState, spec: model.spec, trainDecoder: model.trainDecoder },
    datasets,
    runtime: init.runtime,
    // Said once, after the first step: on a GPU worker, any node ORT left on the CPU shows here.
    // A JSON record like the worker's other logs (the launcher reads them back; see shared/log).
    logPlacement: (line) => createLogger({ level: 'info', pretty: false }, { bindings: { role: 'worker', workerId: init.id } }).info(line),
  });
}

function post(port: MessagePort, reply: ComputeReply, transfer: ArrayBuffer[] = []): void {
  try {
    port.postMessage(reply, transfer);
  } catch (err) {
    // A buffer that cannot be transferred (not detachable): copy instead.
    if (transfer.length === 0) throw err;
    port.postMessage(reply);
  }
}

async function handle(w: LocalWorker, req: ComputeRequest): Promise<{ value: ComputeReply & { ok: true }; transfer: ArrayBuffer[] }> {
  switch (req.method) {
    case 'setWeights':
      await w.setWeights(req.version, req.params);
      return { value: { kind: 'result', id: req.id, ok: true, value: null }, transfer: [] };
    case 'trainStep': {
      reviveSampleBytes(req.work.samples);
      const r = await w.trainStep(req.work);
      return { value: { kind: 'result', id: req.id, ok: true, value: r }, transfer: buffersOf(r.grads.values()) };
    }
    case 'evaluate':
      reviveSampleBytes(req.work.samples);
      return { value: { kind: 'result', id: req.id, ok: true, value: await w.evaluate(req.work, req.split) }, transfer: [] };
    case 'close':
      await w.close();
      return { value: { kind: 'result', id: req.id, ok: true, value: null }, transfer: [] };
  }
}

export function serve(port: MessagePort, init: ComputeThreadInit): void {
  let queue: Promise<unknown> = Promise.resolve();
  const ready = setUp(init);
  ready.then(
    () => post(port, { kind: 'ready' }),
    (err: unknown) => post(port, { kind: 'setupError', error: toWireError(err) }),
  );
  port.on('message', (req: ComputeRequest) => {
    queue = queue.then(async () => {
      try {
        const w = await ready;
        const { value, transfer } = await handle(w, req);
        post(port, value, transfer);
      } catch (err) {
        post(port, { kind: 'result', id: req.id, ok: false, error: toWireError(err) });
      }
    });
  });
}

if (parentPort) serve(parentPort, workerData as ComputeThreadInit);
