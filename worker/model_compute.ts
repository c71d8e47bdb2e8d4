// The default compute of a worker session: the run's model in a compute thread (compute_thread.ts),
// built once the coordinator accepted the fingerprint and kept from one session to the next while
// the run's model is the same (an eviction, a coordinator restart).

import { existsSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { parseConfigText } from '../shared/config/index.js';
import type { RuntimeOptions } from '../shared/graph/runtime.js';
import { modelFingerprint } from '../shared/contract/fingerprint.js';
import { cudaSettings } from '../shared/contract/runtime_options.js';
import type * as pb from '../shared/wire/messages.js';
import { ThreadedWorker } from './compute_thread.js';
import { WorkerRefusedError, type WorkerLogLevel } from './grpc_worker.js';
import type { ComputeProvider, PreparedCompute } from './session_compute.js';

/** A compute thread built for a run's config, and what it was built from. */
interface KeptModel {
  /** The config text, the sample transport and the checkpoint file's size and mtime. */
  key: string;
  fingerprint: pb.ModelFingerprint;
  compute: ThreadedWorker;
}

function modelKey(reply: pb.JoinReply, checkpoint: string | null): string {
  let file = '';
  if (checkpoint) {
    const st = statSync(checkpoint);
    file = `${st.size}:${st.mtimeMs}`;
  }
  return JSON.stringify([reply.config_yaml, reply.samples_as_bytes, file]);
}

export class ModelCompute implements ComputeProvider {
  private kept?: KeptModel;

  constructor(private readonly runtime: RuntimeOptions) {}

  get device(): string {
    return this.runtime.device?.kind ?? 'cpu';
  }

  async prepare(reply: pb.JoinReply, address: string, log: (line: string, level?: WorkerLogLevel) => void): Promise<PreparedCompute> {
    const id = reply.worker_id;
    const config = parseConfigText(reply.config_yaml, `run ${reply.run_id} (from ${address})`, { checkPaths: false });
    if (config.model.checkpoint && !existsSync(config.model.checkpoint)) {
      throw new WorkerRefusedError(`the run's checkpoint ${config.model.checkpoint} does not exist on this host (${hostname()}); workers need the same file at the same path`);
    }
    const key = modelKey(reply, config.model.checkpoint);
    if (this.kept && (this.kept.key !== key || !this.kept.compute.usable)) {
      await this.kept.compute.close().catch(() => undefined);
      delete this.kept;
    }
    // The same run and checkpoint as last time: no second hash of the checkpoint, no second build.
    const reuse = this.kept;
    const loaded = reuse?.fingerprint ?? (await modelFingerprint(config));
    const dataDirs = reply.samples_as_bytes ? { train: null, test: null } : {};
    // The model is built only once the coordinator accepted the fingerprint (a refusal is immediate).
    const start = async (): Promise<ThreadedWorker> => {
      if (reuse) {
        log(`joined run ${reply.run_id} as ${id}`);
        log('kept the model and sessions of the previous session');
        return reuse.compute;
      }
      // The device is this worker's own (--gpu); the CUDA settings are the run's.
      const compute = await ThreadedWorker.start({ id, config, runtime: { ...this.runtime, cuda: cudaSettings(config) }, ...dataDirs });
      this.kept = { key, fingerprint: loaded, compute };
      log(`joined run ${reply.run_id} as ${id}`);
      return compute;
    };
    return { loaded, start };
  }

  async close(): Promise<void> {
    await this.kept?.compute.close().catch(() => undefined);
    delete this.kept;
  }
}
