// Hostile or broken peers: sessions that send malformed, out-of-order, mis-shaped, non-finite or
// oversize replies are refused and counted, their samples go to an honest worker, and the run's
// losses equal a clean run's.

import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, describe, it } from 'node:test';
import { runDistributed } from '../../coordinator/distributed_run.js';
import type { CoordinatorServer } from '../../coordinator/grpc/coordinator_server.js';
import type { Summary } from '../../coordinator/trainer.js';
import { loadConfig } from '../../shared/config/index.js';
import { modelFingerprint } from '../../shared/contract/fingerprint.js';
import type * as pb from '../../shared/wire/messages.js';
import { PROTOCOL_VERSION, loadWireProtos } from '../../shared/wire/proto_loader.js';
import { SharedToken, TOKEN_ENV_VAR, tokenClientInterceptor } from '../../shared/wire/security.js';
import { runRemoteWorker } from '../../worker/grpc_worker.js';
import { tinyRunConfig } from './helpers.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'samlora-fuzz-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const env = { [TOKEN_ENV_VAR]: 'fuzz-token-0123456789abcdef' };
const token = SharedToken.fromEnv(TOKEN_ENV_VAR, env);

type Behaviour = 'before-hello' | 'unknown-id' | 'wrong-step' | 'unknown-tensor' | 'wrong-shape' | 'nan' | 'short-chunk' | 'oversize' | 'packed-nan' | 'packed-total' | 'mixed-forms';
const BEHAVIOURS: Behaviour[] = ['before-hello', 'unknown-id', 'wrong-step', 'unknown-tensor', 'wrong-shape', 'nan', 'short-chunk', 'oversize', 'packed-nan', 'packed-total', 'mixed-forms'];

/** A peer that joins properly, then misbehaves as told at its first chance. */
function hostile(address: string, fingerprint: pb.ModelFingerprint, behaviour: Behaviour): Promise<void> {
  const protos = loadWireProtos();
  const client = new protos.coordinator.Client(address, grpc.credentials.createInsecure(), { interceptors: [tokenClientInterceptor(token)] });
  return new Promise<void>((resolve) => {
    client.Join({ protocol_version: PROTOCOL_VERSION, software_version: 'fuzz', capabilities: null } as unknown as pb.JoinRequest, { deadline: Date.now() + 10_000 }, (err, reply) => {
      if (err || !reply) return resolve();
      const call = client.Session();
      const done = (): void => {
        call.cancel();
        client.close();
        resolve();
      };
      call.on('error', done);
      call.on('end', done);
      const shapes = new Map<string, number[]>();
      const w = (m: pb.WorkerMessageOut): void => void call.write(m);
      if (behaviour === 'before-hello') w({ heartbeat: { unix_millis: 1, sequence: 1 } });
      else w({ hello: { worker_id: behaviour === 'unknown-id' ? 'nobody' : reply.worker_id, loaded: fingerprint } });
      call.on('data', (m: pb.CoordinatorMessage) => {
        if (m.kind === 'refusal' || m.kind === 'stop') return done();
        if (m.kind === 'weights') for (const t of m.weights.tensors) shapes.set(t.name, t.shape);
        // Evaluations get an answer to a request never made (out of order).
        if (m.kind === 'eval') return w({ eval_result: { request_id: m.eval.request_id + 1000, scores: [], failed: [] } });
        if (m.kind !== 'step') return;
        const grads = [...shapes].map(([name, shape]) => ({ name, shape }));
        const header = (over: Partial<pb.StepResultHeader> = {}): pb.WorkerMessageOut => ({
          step_result: { step: m.step.step, weight_sum: 1, loss_sum: 1, samples: [], failed: [], compute_seconds: 0, grads, weights_hash: '', peak_rss_bytes: 0, ...over },
        });
        const [first] = grads;
        const n = first!.shape.reduce((a, b) => a * b, 1);
        const chunk = (data: Buffer, over: Partial<pb.TensorChunk> = {}): pb.WorkerMessageOut => ({
          tensor: { name: first!.name, shape: first!.shape, encoding: 'FP32', offset_elements: 0, total_elements: n, data, last: true, ...over },
        });
        const total = grads.reduce((a, g) => a + g.shape.reduce((x, y) => x * y, 1), 0);
        const packed = (data: Buffer, over: Partial<pb.PackedTensors> = {}): pb.WorkerMessageOut => ({
          packed: { encoding: 'FP32', offset_elements: 0, total_elements: total, data, last: data.length === 4 * total, ...over },
        });
        switch (behaviour) {
          case 'wrong-step':
            w(header({ step: m.step.step + 7 }));
            break;
          case 'unknown-tensor':
            w(header({ grads: [...grads.slice(1), { name: 'blocks.0.evil', shape: first!.shape }] }));
            break;
          case 'wrong-shape':
            w(header());
            w(chunk(Buffer.alloc(8), { shape: [1, 2], total_elements: 2 }));
            break;
          case 'nan':
            w(header());
            w(chunk(Buffer.from(new Float32Array(n).fill(Number.NaN).buffer)));
            break;
          case 'short-chunk':
            w(header());
            w(chunk(Buffer.alloc(3)));
            break;
          case 'oversize':
            w(header());
            w(chunk(Buffer.alloc(64 * 2 ** 20)));
            break;
          case 'packed-nan':
            w(header());
            w(packed(Buffer.from(new Float32Array(total).fill(Number.NaN).buffer)));
            break;
          case 'packed-total':
            w(header());
            w(packed(Buffer.alloc(8), { total_elements: 2 }));
            break;
          case 'mixed-forms':
            w(header());
            w(packed(Buffer.alloc(4 * n), { last: false }));
            w(chunk(Buffer.alloc(4 * n)));
            break;
          default:
            break;
        }
      });
    });
  });
}

async function run(name: string, config: string, attack: boolean): Promise<{ summary: Summary; rejected: number }> {
  const fingerprint = await modelFingerprint(await loadConfig(config));
  const stop = new AbortController();
  const peers: Promise<void>[] = [];
  let server: CoordinatorServer | undefined;
  let address = '';
  const queue = attack ? [...BEHAVIOURS] : [];
  // One hostile peer at a time next to one honest worker: min_workers 2 makes the loop wait for the
  // next peer after each eviction, so every behaviour meets a real step.
  const next = (): void => {
    const b = queue.shift();
    peers.push(b ? hostile(address, fingerprint, b) : runRemoteWorker({ address, token, runtime: { intraOpThreads: 1 }, signal: stop.signal, maxAttempts: 3 }));
  };
  try {
    const summary = await runDistributed({
      configPath: config,
      runDir: path.join(tmp, name),
      listen: '127.0.0.1:0',
      minWorkers: 2,
      token,
      deadlineMs: 30_000,
      onListening: (a, s) => {
        address = a;
        server = s;
        peers.push(runRemoteWorker({ address, token, runtime: { intraOpThreads: 1 }, signal: stop.signal, maxAttempts: 3 }));
        next();
      },
      progress: (line) => {
        if (/ left: |^refused a worker/.test(line)) next();
      },
    });
    return { summary, rejected: server!.rejectedMessages };
  } finally {
    stop.abort();
    await Promise.allSettled(peers);
  }
}

describe('hostile peers', () => {
  it('malformed messages are refused and counted; the run is unaffected', async () => {
    const config = await tinyRunConfig(tmp, { train: 6, batch: 2, epochs: 2 });
    const clean = await run('clean', config, false);
    const attacked = await run('attacked', config, true);
    assert.equal(attacked.summary.status, 'completed');
    assert.ok(attacked.rejected >= BEHAVIOURS.length - 1, `counted ${attacked.rejected} rejected messages`);
    assert.deepEqual(attacked.summary.epochs.map((e) => [e.samples_trained, e.duplicates, e.missing]), clean.summary.epochs.map((e) => [e.samples_trained, e.duplicates, e.missing]));
    attacked.summary.losses.forEach((l, i) => {
      const ref = clean.summary.losses[i]!;
      assert.ok(Math.abs(l - ref) <= 1e-5 * Math.max(1, Math.abs(ref)), `step ${i}: ${l} vs ${ref}`);
    });
  });
});
