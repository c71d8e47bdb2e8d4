// Hostile or broken peers against the real coordinator: each attack is reached (the peer joins
// properly, answers evaluations validly and misbehaves at its first step), refused for its own
// cause (asserted), and its sender evicted (asserted); its samples go to an honest worker, and the
// run's per-epoch accounting, losses and final weights equal a clean run's.

import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runDistributed } from '../../coordinator/distributed_run.js';
import type { CoordinatorServer } from '../../coordinator/grpc/coordinator_server.js';
import { type RunEvent, RunEvents } from '../../coordinator/run_events.js';
import type { Summary } from '../../coordinator/trainer.js';
import { loadConfig } from '../../shared/config/index.js';
import { modelFingerprint } from '../../shared/contract/fingerprint.js';
import { loadLora } from '../../shared/sam/lora_io.js';
import type * as pb from '../../shared/wire/messages.js';
import { PROTOCOL_VERSION, loadWireProtos } from '../../shared/wire/proto_loader.js';
import { SharedToken, TOKEN_ENV_VAR, tokenClientInterceptor } from '../../shared/wire/security.js';
import { TensorReceiver } from '../../shared/wire/tensor_receiver.js';
import { weightsHash } from '../../shared/tensor/weights_hash.js';
import { runRemoteWorker } from '../../worker/grpc_worker.js';
import { tinyRunConfig } from './helpers.js';

const tmp = mkdtempSync(path.join(tmpdir(), 'samlora-fuzz-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
const env = { [TOKEN_ENV_VAR]: 'fuzz-token-0123456789abcdef' };
const token = SharedToken.fromEnv(TOKEN_ENV_VAR, env);

/** What a step reply needs to know: the step, its samples and the trainable tensors' shapes. */
interface StepContext {
  step: pb.StepAssignment;
  shapes: Map<string, number[]>;
  /** A header that passes every check (each assigned sample trained with weight 1, loss 0.5). */
  header: (over?: Partial<pb.StepResultHeader>) => pb.WorkerMessageOut;
}

interface Attack {
  name: string;
  /** What the peer sends for its first step (absent: the attack is in the session's opening). */
  onStep?: (c: StepContext) => pb.WorkerMessageOut[];
  /** Answers its first evaluation with this instead of a valid reply. */
  onEval?: (e: pb.EvalAssignment) => pb.WorkerMessageOut[];
  opening?: 'before-hello' | 'unknown-id';
  /** The coordinator's count of refused messages names this reason (null: none is counted). */
  refused: RegExp | null;
  /** The peer is evicted with this reason (null: it never joined). */
  evicted: RegExp | null;
}

const elements = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);
const f32 = (n: number, v: number): Buffer => Buffer.from(new Float32Array(n).fill(v).buffer);

function firstChunk(c: StepContext, data: Buffer, over: Partial<pb.TensorChunk> = {}): pb.WorkerMessageOut {
  const [name, shape] = [...c.shapes][0]!;
  return { tensor: { name, shape, encoding: 'FP32', offset_elements: 0, total_elements: elements(shape), data, last: true, ...over } };
}
function packed(c: StepContext, data: Buffer, over: Partial<pb.PackedTensors> = {}): pb.WorkerMessageOut {
  const total = [...c.shapes.values()].reduce((a, s) => a + elements(s), 0);
  return { packed: { encoding: 'FP32', offset_elements: 0, total_elements: total, data, last: data.length === 4 * total, ...over } };
}
/** Every gradient, whole, each element `v`. */
function allGrads(c: StepContext, v: number): pb.WorkerMessageOut[] {
  return [...c.shapes].map(([name, shape]) => ({ tensor: { name, shape, encoding: 'FP32', offset_elements: 0, total_elements: elements(shape), data: f32(elements(shape), v), last: true } }));
}
const honestSamples = (c: StepContext): pb.SampleOutcome[] => c.step.samples.map((s) => ({ id: s.id, loss: 0.5, weight: 1 }));

const ATTACKS: Attack[] = [
  // Met by the evaluation before training (the first peer).
  { name: 'eval-foreign-id', onEval: (e) => [{ eval_result: { request_id: e.request_id, scores: [{ id: 'intruder', dice: 0.5, iou: 0.5, objects: 1 }], failed: [] } }], refused: /sample "intruder" was not assigned/, evicted: /malformed reply: sample "intruder" was not assigned/ },
  { name: 'before-hello', opening: 'before-hello', refused: /the first message of a session must be hello/, evicted: null },
  { name: 'unknown-id', opening: 'unknown-id', refused: /unknown worker id "nobody"/, evicted: null },
  { name: 'wrong-step', onStep: (c) => [c.header({ step: c.step.step + 7 })], refused: /a result for step \d+ while step \d+ is running/, evicted: /a result for step/ },
  {
    name: 'unknown-tensor',
    onStep: (c) => [c.header({ grads: [...[...c.shapes].slice(1).map(([name, shape]) => ({ name, shape })), { name: 'blocks.0.evil', shape: [...c.shapes][0]![1] }] })],
    refused: /the gradient list does not match the trainable tensors/,
    evicted: /gradient list does not match/,
  },
  { name: 'wrong-shape', onStep: (c) => [c.header(), firstChunk(c, Buffer.alloc(8), { shape: [1, 2], total_elements: 2 })], refused: /shape \[1, 2\], expected/, evicted: /shape \[1, 2\], expected/ },
  { name: 'nan', onStep: (c) => [c.header(), firstChunk(c, f32(elements([...c.shapes][0]![1]), Number.NaN))], refused: /element 0 is NaN/, evicted: /element 0 is NaN/ },
  { name: 'short-chunk', onStep: (c) => [c.header(), firstChunk(c, Buffer.alloc(3))], refused: /3 data bytes is not a whole number/, evicted: /not a whole number/ },
  { name: 'packed-nan', onStep: (c) => [c.header(), packed(c, f32([...c.shapes.values()].reduce((a, s) => a + elements(s), 0), Number.NaN))], refused: /NaN/, evicted: /NaN/ },
  { name: 'packed-total', onStep: (c) => [c.header(), packed(c, Buffer.alloc(8), { total_elements: 2 })], refused: /total/i, evicted: /total/i },
  {
    name: 'mixed-forms',
    onStep: (c) => [c.header(), packed(c, Buffer.alloc(4 * elements([...c.shapes][0]![1])), { last: false }), firstChunk(c, Buffer.alloc(4 * elements([...c.shapes][0]![1])))],
    refused: /a per-tensor chunk among packed ones/,
    evicted: /a per-tensor chunk among packed ones/,
  },
  // Over the message size limit: grpc-js refuses it before it is buffered; counted all the same.
  { name: 'oversize', onStep: (c) => [c.header(), firstChunk(c, Buffer.alloc(64 * 2 ** 20))], refused: /a message over the size limit: Received message larger than max/, evicted: /sent a message over the size limit/ },
  // The reply's numbers and ids (issue 16, items 5 and 6).
  { name: 'nan-sample-weight', onStep: (c) => [c.header({ samples: honestSamples(c).map((s, i) => (i === 0 ? { ...s, weight: Number.NaN } : s)) })], refused: /the weight of sample ".+" is NaN/, evicted: /weight of sample/ },
  { name: 'negative-loss', onStep: (c) => [c.header({ loss_sum: -1 })], refused: /loss_sum is -1, below/, evicted: /loss_sum is -1/ },
  { name: 'nan-weight-sum', onStep: (c) => [c.header({ weight_sum: Number.NaN })], refused: /weight_sum is NaN/, evicted: /weight_sum is NaN/ },
  { name: 'foreign-id', onStep: (c) => [c.header({ failed: [{ id: 'intruder\n\u001b[31m', reason: 'x' }] })], refused: /sample "intruder\\\\u000a\\\\u001b\[31m" was not assigned/, evicted: /was not assigned/ },
  { name: 'duplicate-id', onStep: (c) => [c.header({ failed: [{ id: c.step.samples[0]!.id, reason: 'x' }] })], refused: /is reported twice/, evicted: /reported twice/ },
  {
    name: 'log-injection',
    onStep: () => [{ error: { code: 'E\n', message: 'boom\nstep 99/99 loss 0.0000 (forged)\u001b[2J\u001b]0;owned\u0007', fatal: false, step: 0 } }],
    refused: null,
    evicted: /reported E\\u000a: boom\\u000astep 99\/99 loss 0\.0000 \(forged\)\\u001b\[2J/,
  },
  // A complete, well-formed reply computed on other weights: refused by the training loop.
  { name: 'hash-mismatch', onStep: (c) => [c.header({ weights_hash: 'ab'.repeat(32) }), ...allGrads(c, 0)], refused: null, evicted: /holds different weights \(hash mismatch\)/ },
];

/** A peer that joins properly, then misbehaves as told at its first chance; resolves with its worker id. */
function hostile(address: string, fingerprint: pb.ModelFingerprint, attack: Attack): Promise<string | null> {
  const protos = loadWireProtos();
  const client = new protos.coordinator.Client(address, grpc.credentials.createInsecure(), { interceptors: [tokenClientInterceptor(token)] });
  return new Promise((resolve) => {
    client.Join({ protocol_version: PROTOCOL_VERSION, software_version: 'fuzz', capabilities: null } as unknown as pb.JoinRequest, { deadline: Date.now() + 10_000 }, (err, reply) => {
      if (err || !reply) return resolve(null);
      const call = client.Session();
      const done = (): void => {
        call.cancel();
        client.close();
        resolve(reply.worker_id);
      };
      call.on('error', done);
      call.on('end', done);
      const shapes = new Map<string, number[]>();
      // The hash of the weights as received, as an honest worker reports it.
      let weights: TensorReceiver | undefined;
      let hash = '';
      const w = (m: pb.WorkerMessageOut): void => void call.write(m);
      if (attack.opening === 'before-hello') w({ heartbeat: { unix_millis: 1, sequence: 1 } });
      else w({ hello: { worker_id: attack.opening === 'unknown-id' ? 'nobody' : reply.worker_id, loaded: fingerprint } });
      call.on('data', (m: pb.CoordinatorMessage) => {
        if (m.kind === 'refusal' || m.kind === 'stop') return done();
        if (m.kind === 'weights') {
          for (const t of m.weights.tensors) shapes.set(t.name, t.shape);
          weights = new TensorReceiver(m.weights.tensors);
        }
        if ((m.kind === 'tensor' || m.kind === 'packed') && weights) {
          weights.push(m);
          if (weights.complete) hash = weightsHash(new Map([...weights.finish()].map(([k, t]) => [k, t.data])));
        }
        if (m.kind === 'eval') {
          // A valid answer (it evaluated nothing) unless evaluations are the attack.
          const ids = m.eval.samples.map((s) => s.id);
          return (attack.onEval?.(m.eval) ?? [{ eval_result: { request_id: m.eval.request_id, scores: [], failed: ids.map((id) => ({ id, reason: 'this peer does not evaluate' })) } }]).forEach(w);
        }
        if (m.kind !== 'step' || !attack.onStep) return;
        const step = m.step;
        const c: StepContext = {
          step,
          shapes,
          header: (over = {}) => ({
            step_result: {
              step: step.step,
              weight_sum: step.samples.length,
              loss_sum: 0.5 * step.samples.length,
              samples: step.samples.map((s) => ({ id: s.id, loss: 0.5, weight: 1 })),
              failed: [],
              compute_seconds: 0.01,
              peak_rss_bytes: 0,
              overflow: false,
              grads: [...shapes].map(([name, shape]) => ({ name, shape })),
              weights_hash: hash,
              ...over,
            },
          }),
        };
        attack.onStep(c).forEach(w);
      });
    });
  });
}

interface RunRecord {
  summary: Summary;
  events: RunEvent[];
  peers: Map<string, string | null>;
  runDir: string;
}

async function run(name: string, config: string, attacks: readonly Attack[]): Promise<RunRecord> {
  const fingerprint = await modelFingerprint(await loadConfig(config));
  const stop = new AbortController();
  const peers: Promise<void>[] = [];
  const ids = new Map<string, string | null>();
  const events = new RunEvents();
  const seen: RunEvent[] = [];
  events.on((e) => void seen.push(e));
  let address = '';
  const queue = [...attacks];
  const honest = (): Promise<void> => runRemoteWorker({ address, token, runtime: { intraOpThreads: 1 }, signal: stop.signal, maxAttempts: 3 });
  // One hostile peer at a time next to one honest worker: min_workers 2 makes the loop wait for the
  // next peer after each eviction, so every attack meets a real step (or evaluation).
  const next = (): void => {
    const a = queue.shift();
    peers.push(a ? hostile(address, fingerprint, a).then((id) => void ids.set(a.name, id)) : honest());
  };
  const runDir = path.join(tmp, name);
  try {
    const summary = await runDistributed({
      configPath: config,
      runDir,
      listen: '127.0.0.1:0',
      minWorkers: 2,
      token,
      deadlineMs: 30_000,
      events,
      onListening: (a: string, _s: CoordinatorServer) => {
        address = a;
        peers.push(honest());
        next();
      },
      progress: (line) => {
        if (/ left: |^refused a worker/.test(line)) next();
      },
    });
    return { summary, events: seen, peers: ids, runDir };
  } finally {
    stop.abort();
    await Promise.allSettled(peers);
  }
}

async function finalWeights(summary: Summary): Promise<Map<string, Float32Array>> {
  const lora = await loadLora(path.join(summary.checkpoints.final!, 'lora.safetensors'));
  return new Map([...lora.tensors].map(([k, t]) => [k, t.data]));
}

describe('hostile peers against the real coordinator', () => {
  let config: string;
  let clean: RunRecord;
  before(async () => {
    config = await tinyRunConfig(tmp, { train: 24, batch: 2, epochs: 2 });
    clean = await run('clean', config, []);
  });

  it('each attack is reached, refused for its own cause and its sender evicted; nothing of the run is lost', async () => {
    const attacked = await run('attacked', config, ATTACKS);
    assert.equal(attacked.summary.status, 'completed');
    const rejections = attacked.events.filter((e): e is Extract<RunEvent, { kind: 'message_rejected' }> => e.kind === 'message_rejected');
    const evictions = attacked.events.filter((e): e is Extract<RunEvent, { kind: 'worker_evicted' }> => e.kind === 'worker_evicted');
    for (const a of ATTACKS) {
      assert.ok(attacked.peers.has(a.name), `${a.name}: the peer never ran (the run ended first)`);
      const id = attacked.peers.get(a.name)!;
      if (a.refused) {
        const hit = rejections.find((r) => a.refused!.test(r.reason) && (a.evicted === null ? r.workerId === null : r.workerId === id));
        assert.ok(hit, `${a.name}: no refusal matching ${a.refused} from ${id}; refusals: ${rejections.map((r) => `${r.workerId}: ${r.reason}`).join(' | ')}`);
        assert.equal(hit.cause, a.evicted === null ? 'refused' : 'invalid', a.name);
      }
      const out = evictions.filter((e) => e.id === id);
      if (a.evicted === null) assert.equal(out.length, 0, `${a.name}: never joined, so never evicted`);
      else assert.ok(out.some((e) => a.evicted!.test(e.reason)), `${a.name}: evicted for ${out.map((e) => e.reason).join(' | ') || 'nothing'}, expected ${a.evicted}`);
    }
    assert.equal(attacked.summary.evictions, ATTACKS.filter((a) => a.evicted).length);
    // Nothing lost: the same samples trained per epoch, the same losses, the same weights.
    assert.deepEqual(
      attacked.summary.epochs.map((e) => [e.samples_trained, e.duplicates, e.missing]),
      clean.summary.epochs.map((e) => [e.samples_trained, e.duplicates, e.missing]),
    );
    assert.equal(attacked.summary.losses.length, clean.summary.losses.length);
    attacked.summary.losses.forEach((l, i) => {
      const ref = clean.summary.losses[i]!;
      assert.ok(Math.abs(l - ref) <= 1e-5 * Math.max(1, Math.abs(ref)), `step ${i}: ${l} vs ${ref}`);
    });
    const [want, got] = [await finalWeights(clean.summary), await finalWeights(attacked.summary)];
    assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort());
    for (const [k, w] of want) {
      const g = got.get(k)!;
      assert.equal(g.length, w.length, k);
      for (let i = 0; i < w.length; i++) assert.ok(Math.abs(g[i]! - w[i]!) <= 1e-5 * Math.max(1, Math.abs(w[i]!)), `${k}[${i}]: ${g[i]} vs ${w[i]}`);
    }
    // Peer text reaches train.log escaped: no forged line, no terminal escape.
    const log = readFileSync(path.join(attacked.runDir, 'train.log'), 'utf8');
    assert.doesNotMatch(log, /^step 99\/99/m);
    assert.ok(!log.includes('\u001b') && !log.includes('\u0007'), 'no control character from a peer in train.log');
    assert.match(log, /boom\\u000astep 99\/99/);
  });

  it('health answers without a token on the real coordinator; the coordinator service does not', async () => {
    const protos = loadWireProtos();
    const events = new RunEvents();
    const refused: string[] = [];
    events.on((e) => void (e.kind === 'message_rejected' && e.cause === 'unauthenticated' && refused.push(e.reason)));
    const stop = new AbortController();
    let checks: Promise<void> | undefined;
    const summary = runDistributed({
      configPath: config,
      runDir: path.join(tmp, 'health'),
      listen: '127.0.0.1:0',
      minWorkers: 1,
      token,
      events,
      signal: stop.signal,
      onListening: (address) => {
        checks = (async () => {
          const health = new protos.health.Client(address, grpc.credentials.createInsecure());
          const status = await new Promise<pb.HealthCheckResponse>((resolve, reject) => health.Check({ service: '' }, { deadline: Date.now() + 10_000 }, (err, r) => (err || !r ? reject(err ?? new Error('no reply')) : resolve(r))));
          health.close();
          assert.equal(status.status, 'SERVING');
          const coordinator = new protos.coordinator.Client(address, grpc.credentials.createInsecure());
          const join = await new Promise<grpc.ServiceError | null>((resolve) =>
            coordinator.Join({ protocol_version: PROTOCOL_VERSION, software_version: 'x', capabilities: null } as unknown as pb.JoinRequest, { deadline: Date.now() + 10_000 }, (err) => resolve(err)),
          );
          coordinator.close();
          assert.equal(join?.code, grpc.status.UNAUTHENTICATED);
        })().finally(() => stop.abort());
      },
    });
    await summary;
    await checks;
    assert.ok(refused.some((r) => /unauthenticated call to \/samlora\.v1\.Coordinator\/Join/.test(r)), refused.join(' | '));
  });

  it('a peer whose finite gradients are too large for float32: steps skipped, never applied; the run stops with a usable checkpoint', async () => {
    const fingerprint = await modelFingerprint(await loadConfig(config));
    const huge: Attack = {
      name: 'huge-gradient',
      // Repeats for every step: 3e38 is finite, its square is not.
      onStep: (c) => [c.header(), ...allGrads(c, 3e38)],
      refused: null,
      evicted: null,
    };
    let address = '';
    const peers: Promise<unknown>[] = [];
    const runDir = path.join(tmp, 'huge');
    const err = await runDistributed({
      configPath: config,
      runDir,
      listen: '127.0.0.1:0',
      minWorkers: 1,
      token,
      deadlineMs: 30_000,
      overrides: { 'train.max_skipped_steps': '3' },
      onListening: (a) => {
        address = a;
        peers.push(hostile(address, fingerprint, huge));
      },
    }).then(
      () => null,
      (e: unknown) => e,
    );
    await Promise.allSettled(peers);
    assert.ok(err instanceof Error, 'the run fails');
    assert.match(err.message, /3 steps in a row were skipped \(the last: the update of .+ would be non-finite/);
    const summary = JSON.parse(readFileSync(path.join(runDir, 'summary.json'), 'utf8')) as Summary;
    assert.equal(summary.status, 'failed');
    assert.equal(summary.skipped_steps, 3);
    assert.match(summary.error!, /train\.max_skipped_steps is 3/);
    const checkpoints = readdirSync(path.join(runDir, 'checkpoints')).filter((d) => d.startsWith('step'));
    assert.ok(checkpoints.length > 0, 'a checkpoint is written');
    const last = path.join(runDir, 'checkpoints', checkpoints.sort().at(-1)!);
    assert.ok(existsSync(path.join(last, 'lora.safetensors')));
    const lora = await loadLora(path.join(last, 'lora.safetensors'));
    for (const [k, t] of lora.tensors) assert.ok(t.data.every(Number.isFinite), `${k} is finite`);
  });
});

