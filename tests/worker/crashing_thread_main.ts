// A stand-in compute thread for the crash tests (ThreadedWorkerOptions.entry): ready at once, answers
// setWeights, never answers evaluate, and dies on trainStep: an uncaught error when the worker id is
// "throw", process.exit(3) otherwise.

import { parentPort, workerData } from 'node:worker_threads';
import type { ComputeReply, ComputeRequest, ComputeThreadInit } from '../../worker/compute_thread_protocol.js';

const port = parentPort!;
const init = workerData as ComputeThreadInit;
const reply = (m: ComputeReply): void => port.postMessage(m);

reply({ kind: 'ready' });
port.on('message', (req: ComputeRequest) => {
  if (req.method === 'setWeights' || req.method === 'close') reply({ kind: 'result', id: req.id, ok: true, value: null });
  if (req.method !== 'trainStep') return;
  if (init.id === 'throw') {
    setTimeout(() => {
      throw new Error('boom in the compute thread');
    }, 20);
  } else {
    setTimeout(() => process.exit(3), 20);
  }
});
