// Fuzzing the wire formats as a hostile peer would feed them: valid session messages (both
// directions: hello, step results, tensor chunks, packed tensors, evaluation results, weights,
// assignments with sample bytes) are mutated byte by byte and field by field, a bounded, seeded
// number of times, then decoded by the gRPC deserializer and passed to the code that receives them
// (tensor and packed assemblers, reply checks, sample decoding). Any outcome is fine except a
// crash (an error that is not a refusal: a TypeError, a RangeError from our code), a hang, or an
// allocation out of proportion to the input.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkEvalReply, checkStepReply } from '../../coordinator/grpc/reply_check.js';
import { Rng } from '../../shared/random/rng.js';
import type * as pb from '../../shared/wire/messages.js';
import { packedTensorMessages } from '../../shared/wire/packed_tensors.js';
import { loadWireProtos } from '../../shared/wire/proto_loader.js';
import { sampleFromWire } from '../../shared/wire/sample_codec.js';
import { TensorReceiver } from '../../shared/wire/tensor_receiver.js';
import { wireText } from '../../shared/wire/wire_text.js';
import { mutateBytes, mutateValue } from '../helpers/mutate.js';

const session = loadWireProtos().coordinator.definition.Session;
/** Mutated inputs per seed message and mutation kind: a few seconds in all. */
const CASES = 400;
/** No single input may take longer than this to decode and receive. */
const MAX_INPUT_MS = 1000;
/** The whole test may raise the process's peak memory by at most this. */
const MAX_RSS_GROWTH_BYTES = 256 * 2 ** 20;

const layout: pb.TensorInfo[] = [
  { name: 'blocks.0.attn.qkv.lora_a', shape: [2, 3] },
  { name: 'blocks.0.attn.qkv.lora_b', shape: [4] },
];
const expected = new Map(layout.map((t) => [t.name, t.shape] as const));
const f32 = (values: number[]): Buffer => Buffer.from(new Float32Array(values).buffer);
const assigned = ['img-1', 'img-2'];

function packedBytes(envelope: 'worker_message' | 'coordinator_message'): Buffer[] {
  const tensors = new Map(layout.map((t, i) => [t.name, { shape: t.shape, data: Float32Array.from({ length: t.shape.reduce((a, b) => a * b, 1) }, (_, j) => i + j / 10) }]));
  return [...packedTensorMessages(tensors, { encoding: 'fp32', maxChunkBytes: 16, envelope })].map((m) => m.bytes);
}

const workerSeeds: pb.WorkerMessageOut[] = [
  { hello: { worker_id: 'host-1', loaded: { variant: 'vit_b', checkpoint_sha256: 'ab'.repeat(32), lora_layout_hash: 'cd'.repeat(8) } } },
  { heartbeat: { unix_millis: 1_700_000_000_000, sequence: 7 } },
  {
    step_result: {
      step: 3,
      weight_sum: 2,
      loss_sum: 1,
      samples: [{ id: 'img-1', loss: 0.5, weight: 2 }],
      failed: [{ id: 'img-2', reason: 'unreadable' }],
      compute_seconds: 0.5,
      grads: layout,
      weights_hash: 'ef'.repeat(32),
      peak_rss_bytes: 300_000_000,
      overflow: true,
    },
  },
  { tensor: { name: layout[0]!.name, shape: layout[0]!.shape, encoding: 'FP32', offset_elements: 0, total_elements: 6, data: f32([1, 2, 3, 4, 5, 6]), last: true } },
  { tensor: { name: layout[1]!.name, shape: layout[1]!.shape, encoding: 'BF16', offset_elements: 0, total_elements: 4, data: Buffer.from([0, 0x3f, 0, 0x40, 0, 0xc0, 0x80, 0x3f]), last: true } },
  { eval_result: { request_id: 4, scores: [{ id: 'img-1', dice: 0.5, iou: 0.25, objects: 2 }], failed: [{ id: 'img-2', reason: 'x' }] } },
  { error: { code: 'OOM', message: 'out of memory', fatal: true, step: 3 } },
];

const sample: pb.SampleBytes = {
  format: 'DATASET_FORMAT_COCO',
  id: 'img-1',
  image_name: 'a.png',
  image: Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3]),
  mask_name: '',
  mask: Buffer.alloc(0),
  coco: {
    image_id: 'image_id_number',
    image_id_number: 12,
    width: 64,
    height: 48,
    annotation_file: 'ann.json',
    objects: [
      { annotation_id: 'annotation_id_string', annotation_id_string: 'a1', category_id: 1, iscrowd: false, polygons: [{ xy: [1, 2, 10, 2, 10, 12] }], rle: null },
      { category_id: 2, iscrowd: true, polygons: [], rle: { size: [48, 64], counts: 'uncompressed', uncompressed: { counts: [5, 10, 3000] } } },
    ],
  },
};
const coordinatorSeeds: pb.CoordinatorMessageOut[] = [
  { welcome: { worker_id: 'host-1' } },
  { refusal: { reason: 'no' } },
  { weights: { version: 2, tensors: layout } },
  { step: { epoch: 0, step: 3, weights_version: 2, samples: [{ id: 'img-1', bytes: sample }, { id: 'img-2', bytes: null }], loss_scale: 32768 } },
  { eval: { request_id: 4, weights_version: 2, split: 'SPLIT_TEST', samples: [{ id: 'img-1', bytes: { ...sample, format: 'DATASET_FORMAT_REFERENCE', mask_name: 'm.png', mask: Buffer.from([1, 2]), coco: null } }] } },
  { stop: { reason: 'done', kind: 'STOP_EVICTED', reconnect_after_ms: 2000 } },
  { heartbeat: { unix_millis: 1, sequence: 1 } },
  { sample: sample },
];

/** A crash: something no refusal throws. */
function isCrash(e: unknown): boolean {
  return !(e instanceof Error) || e instanceof TypeError || e instanceof RangeError || e instanceof SyntaxError;
}

/** Runs the receiving side on `m`; refusals (thrown Errors) are fine, crashes are returned. */
function receive(m: pb.WorkerMessage | pb.CoordinatorMessage): unknown {
  try {
    switch (m.kind) {
      case 'step_result':
        checkStepReply(m.step_result, assigned);
        new TensorReceiver(m.step_result.grads, { expected, rejectNonFinite: true });
        break;
      case 'weights':
        new TensorReceiver(m.weights.tensors, {});
        break;
      case 'tensor':
      case 'packed': {
        const r = new TensorReceiver(layout, { expected, rejectNonFinite: true });
        r.push(m);
        if (r.complete) r.finish();
        break;
      }
      case 'eval_result':
        checkEvalReply(m.eval_result, assigned);
        break;
      case 'error':
        wireText(m.error.message);
        wireText(m.error.code);
        break;
      case 'step':
        for (const s of m.step.samples) if (s.bytes) sampleFromWire(s.bytes);
        break;
      case 'eval':
        for (const s of m.eval.samples) if (s.bytes) sampleFromWire(s.bytes);
        break;
      default:
        break;
    }
  } catch (e) {
    if (isCrash(e)) return e;
  }
  return undefined;
}

/** Bytes held by a decoded message's strings, byte fields and arrays: what the input could carry. */
function footprint(v: unknown, depth = 0): number {
  if (depth > 64) return Number.POSITIVE_INFINITY;
  if (typeof v === 'string') return v.length;
  if (v instanceof Uint8Array) return v.length;
  if (Array.isArray(v)) return v.length + v.reduce((a: number, x) => a + footprint(x, depth + 1), 0);
  if (typeof v === 'object' && v !== null) return Object.values(v).reduce((a: number, x) => a + footprint(x, depth + 1), 0);
  return 0;
}

interface FuzzTarget {
  name: string;
  seeds: Buffer[];
  decode: (b: Buffer) => pb.WorkerMessage | pb.CoordinatorMessage;
  encode: (m: unknown) => Buffer;
}

const targets: FuzzTarget[] = [
  {
    name: 'worker -> coordinator messages',
    seeds: [...workerSeeds.map((m) => session.requestSerialize(m)), ...packedBytes('worker_message')],
    decode: (b) => session.requestDeserialize(b) as pb.WorkerMessage,
    encode: (m) => session.requestSerialize(m),
  },
  {
    name: 'coordinator -> worker messages',
    seeds: [...coordinatorSeeds.map((m) => session.responseSerialize(m)), ...packedBytes('coordinator_message')],
    decode: (b) => session.responseDeserialize(b) as pb.CoordinatorMessage,
    encode: (m) => session.responseSerialize(m),
  },
];

describe('wire formats under fuzzing', () => {
  const rssBefore = process.resourceUsage().maxRSS * 1024;
  for (const target of targets) {
    it(`${target.name}: mutated bytes and fields never crash, hang or over-allocate`, () => {
      const rng = new Rng(0x5eed + target.name.length);
      let decoded = 0;
      let slowest = 0;
      const run = (input: Buffer, label: string): void => {
        const t0 = performance.now();
        let m: pb.WorkerMessage | pb.CoordinatorMessage;
        try {
          m = target.decode(input);
        } catch (e) {
          // protobufjs refuses malformed bytes with Error / RangeError ("index out of range"): a refusal.
          assert.ok(e instanceof Error, `${label}: decoding threw a non-Error ${String(e)}`);
          return;
        }
        decoded++;
        assert.ok(footprint(m) <= 4 * input.length + 64, `${label}: a ${input.length}-byte message decoded to ${footprint(m)} units`);
        const crash = receive(m);
        assert.equal(crash, undefined, `${label}: ${crash instanceof Error ? crash.stack : String(crash)}`);
        slowest = Math.max(slowest, performance.now() - t0);
      };
      target.seeds.forEach((seed, s) => {
        run(seed, `seed ${s}`);
        for (let i = 0; i < CASES; i++) run(mutateBytes(seed, rng), `seed ${s}, byte mutation ${i}`);
        const base = target.decode(seed);
        for (let i = 0; i < CASES; i++) {
          let bytes: Buffer;
          try {
            bytes = target.encode(mutateValue(base, rng));
          } catch {
            continue; // protobufjs would not encode it: no peer could send it this way
          }
          run(bytes, `seed ${s}, field mutation ${i}`);
        }
      });
      assert.ok(decoded > target.seeds.length * CASES * 0.3, `only ${decoded} inputs decoded: the mutations do not reach the receivers`);
      assert.ok(slowest < MAX_INPUT_MS, `an input took ${slowest.toFixed(0)} ms`);
    });
  }
  it('peak memory stayed bounded', () => {
    const growth = process.resourceUsage().maxRSS * 1024 - rssBefore;
    assert.ok(growth < MAX_RSS_GROWTH_BYTES, `peak RSS grew by ${(growth / 2 ** 20).toFixed(0)} MiB`);
  });
});
