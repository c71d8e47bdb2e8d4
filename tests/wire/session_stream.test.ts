// A Session stream carrying a 40 MB tensor in chunks under a 4 MiB message limit, both ways:
// worker -> coordinator as a step result's gradient, coordinator -> worker as new weights.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { channelLimitOptions, chunkBytesFor, MiB, serverLimitOptions } from '../../shared/wire/limits.js';
import {
  type CoordinatorClient,
  type CoordinatorHandlers,
  type CoordinatorMessage,
  type CoordinatorMessageOut,
  loadWireProtos,
  type WorkerMessage,
  type WorkerMessageOut,
} from '../../shared/wire/proto_loader.js';
import { iterateTensorChunks, TensorAssembler, tensorInfos } from '../../shared/wire/tensor_codec.js';
import { deadline, type RunningServer, startServer, trivialCoordinator, within, writeAll } from './helpers.js';
import { errorMessage } from '../../shared/errors/error_message.js';
import type { HostTensor } from '../../shared/tensor/host_tensor.js';

const LIMIT = 4 * MiB;
const ELEMENTS = 10_000_000; // 40 MB of float32
const protos = loadWireProtos();
let srv: RunningServer;
const clients: grpc.Client[] = [];
let serverSawChunks = 0;

/** Echoes the gradients of a step result back as weights version step + 1, then stops. */
function echoSession(): CoordinatorHandlers['Session'] {
  return (call) => {
    let asm: TensorAssembler | undefined;
    let header: { step: number; tensors: number } | undefined;
    const fail = (e: unknown): void => {
      const details = errorMessage(e);
      call.emit('error', { code: grpc.status.INVALID_ARGUMENT, details });
    };
    call.on('data', (m: WorkerMessage) => {
      try {
        switch (m.kind) {
          case 'hello':
            call.write({ welcome: { worker_id: m.hello.worker_id } });
            break;
          case 'step_result':
            header = { step: m.step_result.step, tensors: m.step_result.grads.length };
            asm = new TensorAssembler({ expected: new Map(m.step_result.grads.map((g) => [g.name, g.shape])), rejectNonFinite: true });
            break;
          case 'tensor': {
            if (asm === undefined || header === undefined) throw new Error('tensor chunk without a header');
            serverSawChunks++;
            if (asm.push(m.tensor) === undefined || asm.completed.size < header.tensors) break;
            const tensors = new Map<string, HostTensor>([...asm.finish()].map(([n, t]) => [n, { shape: t.shape, data: t.data }]));
            const out: Iterable<CoordinatorMessageOut> = (function* () {
              yield { weights: { version: header.step + 1, tensors: tensorInfos(tensors) } };
              for (const chunk of iterateTensorChunks(tensors, { encoding: 'fp32', maxChunkBytes: chunkBytesFor(LIMIT) })) yield { tensor: chunk };
              yield { stop: { reason: 'done', kind: 'STOP_RUN_COMPLETE', reconnect_after_ms: 0 } };
            })();
            writeAll(call, out).then(() => call.end(), fail);
            break;
          }
          default:
            throw new Error(`unexpected message ${String(m.kind)}`);
        }
      } catch (e) {
        fail(e);
      }
    });
  };
}

before(async () => {
  srv = await startServer(
    (s) => s.addService(protos.coordinator.definition, { ...trivialCoordinator(), Session: echoSession() }),
    undefined,
    serverLimitOptions(LIMIT),
  );
});

after(() => {
  for (const c of clients) c.close();
  srv?.close();
});

function client(): CoordinatorClient {
  const c = new protos.coordinator.Client(srv.address, grpc.credentials.createInsecure(), channelLimitOptions(LIMIT));
  clients.push(c);
  return c;
}

interface SessionOutcome {
  messages: CoordinatorMessage[];
  weights: Map<string, { data: Float32Array }> | undefined;
  status: grpc.StatusObject;
}

/** Runs a session that sends `outgoing`, assembling any weights the coordinator sends back. */
async function runSession(outgoing: Iterable<WorkerMessageOut>): Promise<SessionOutcome> {
  const call = client().Session({ deadline: deadline(12000) });
  const messages: CoordinatorMessage[] = [];
  let asm: TensorAssembler | undefined;
  let weights: Map<string, { data: Float32Array }> | undefined;
  let assembleError: unknown;
  call.on('data', (m: CoordinatorMessage) => {
    try {
      if (m.kind === 'weights') asm = new TensorAssembler({ expected: new Map(m.weights.tensors.map((t) => [t.name, t.shape])) });
      else if (m.kind === 'tensor') {
        if (asm === undefined) throw new Error('chunk before weights header');
        asm.push(m.tensor);
        return; // not kept: 10 chunk messages of 4 MiB
      } else if (m.kind === 'stop' && asm !== undefined) weights = asm.finish();
      messages.push(m);
    } catch (e) {
      assembleError = e;
      call.cancel();
    }
  });
  call.on('error', () => undefined); // reported through the status
  const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
  await writeAll(call, outgoing);
  call.end();
  const st = await within(status, 14000, 'session');
  if (assembleError !== undefined) throw assembleError;
  return { messages, weights, status: st };
}

test('a 40 MB tensor streams in chunks under a 4 MiB limit and comes back bit-exact', async () => {
  const data = new Float32Array(ELEMENTS);
  let s = 12345;
  for (let i = 0; i < ELEMENTS; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    data[i] = (s / 2 ** 32 - 0.5) * 2 ** ((s & 31) - 16);
  }
  const grads = new Map<string, HostTensor>([['image_encoder.blocks.0.attn.qkv.lora_A', { shape: [2500, 4000], data }]]);
  const chunkBytes = chunkBytesFor(LIMIT);
  const outgoing: Iterable<WorkerMessageOut> = (function* () {
    yield { hello: { worker_id: 'w1', loaded: null } };
    yield {
      step_result: {
        step: 7,
        weight_sum: 3,
        loss_sum: 1.5,
        samples: [{ id: 'a', loss: 0.5, weight: 3 }],
        failed: [],
        compute_seconds: 0.1,
        weights_hash: '',
        grads: tensorInfos(grads),
        peak_rss_bytes: 0,
        overflow: false,
      },
    };
    for (const chunk of iterateTensorChunks(grads, { encoding: 'fp32', maxChunkBytes: chunkBytes })) yield { tensor: chunk };
  })();
  serverSawChunks = 0;
  const out = await runSession(outgoing);
  assert.equal(out.status.code, grpc.status.OK, out.status.details);
  assert.equal(serverSawChunks, Math.ceil((ELEMENTS * 4) / chunkBytes));
  assert.ok(serverSawChunks >= 10);
  assert.deepEqual(out.messages.map((m) => m.kind), ['welcome', 'weights', 'stop']);
  const first = out.messages[1];
  assert.ok(first.kind === 'weights');
  assert.equal(first.weights.version, 8);
  const back = out.weights?.get('image_encoder.blocks.0.attn.qkv.lora_A');
  assert.ok(back !== undefined);
  assert.equal(Buffer.compare(Buffer.from(back.data.buffer, back.data.byteOffset, back.data.byteLength), Buffer.from(data.buffer)), 0);
});

test('a hostile chunk ends the session with INVALID_ARGUMENT and the codec\'s reason', async () => {
  const grads = new Map<string, HostTensor>([['g', { shape: [4], data: new Float32Array([1, 2, 3, 4]) }]]);
  const [chunk] = iterateTensorChunks(grads, { encoding: 'fp32', maxChunkBytes: 64 });
  const out = await runSession([
    { hello: { worker_id: 'w2', loaded: null } },
    { step_result: { step: 1, weight_sum: 1, loss_sum: 1, samples: [], failed: [], compute_seconds: 0, grads: tensorInfos(grads), weights_hash: '', peak_rss_bytes: 0, overflow: false } },
    { tensor: { ...chunk, name: 'not_a_gradient' } },
  ]);
  assert.equal(out.status.code, grpc.status.INVALID_ARGUMENT);
  assert.match(out.status.details, /not_a_gradient.*not one of the expected tensors/);
});
