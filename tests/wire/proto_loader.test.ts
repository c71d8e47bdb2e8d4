import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  COORDINATOR_SERVICE,
  type CoordinatorMessage,
  type CoordinatorMessageOut,
  HEALTH_SERVICE,
  loadWireProtos,
  PROTOCOL_VERSION,
  ProtoLoadError,
  type WorkerMessage,
  type WorkerMessageOut,
} from '../../shared/wire/proto_loader.js';
import type * as pb from '../../shared/wire/messages.js';
import { packageRoot } from '../../shared/fs/package_root.js';

const here = path.dirname(fileURLToPath(import.meta.url));

test('the package root is found from the compiled tests (dist/...) and holds the protos', () => {
  const root = packageRoot(here);
  assert.ok(existsSync(path.join(root, 'package.json')));
  assert.ok(existsSync(path.join(root, 'proto', 'samlora', 'v1', 'coordinator.proto')));
  assert.equal(packageRoot(path.join(root, 'proto', 'samlora')), root);
});

test('loads both services with the expected methods and streaming kinds, once', () => {
  const protos = loadWireProtos();
  assert.equal(loadWireProtos(), protos, 'cached');
  const c = protos.coordinator.definition;
  assert.equal(c.Join.path, `/${COORDINATOR_SERVICE}/Join`);
  assert.deepEqual([c.Join.requestStream, c.Join.responseStream], [false, false]);
  assert.deepEqual([c.Session.requestStream, c.Session.responseStream], [true, true]);
  const h = protos.health.definition;
  assert.equal(h.Check.path, `/${HEALTH_SERVICE}/Check`);
  assert.deepEqual([h.Watch.requestStream, h.Watch.responseStream], [false, true]);
  assert.equal(typeof protos.coordinator.Client, 'function');
  assert.equal(PROTOCOL_VERSION, 5, '5 since GroupSize (a version 4 aggregator would count as one worker for --min-workers); 4 since Capabilities.group (host groups); 3 since Stop.kind (a version 2 worker takes every Stop for the end of the run)');
});

test('a missing proto directory is a clear ProtoLoadError', () => {
  assert.throws(() => loadWireProtos(path.join(here, 'no-such-dir')), (e: unknown) => e instanceof ProtoLoadError && /not found/.test(e.message));
});

test('messages decode with snake_case names, numbers for int64, enum names, defaults and the oneof kind', () => {
  const session = loadWireProtos().coordinator.definition.Session;
  const out: WorkerMessageOut = {
    step_result: {
      step: 2 ** 40 + 3,
      weight_sum: 2.5,
      loss_sum: Number.NaN,
      samples: [{ id: 'a', loss: Number.NaN, weight: 0 }],
      failed: [{ id: 'b', reason: 'bad png' }],
      compute_seconds: 0.25,
      weights_hash: '',
      grads: [{ name: 'lora.A', shape: [4, 8] }],
      peak_rss_bytes: 3 * 2 ** 30,
      overflow: false,
    },
  };
  const back: WorkerMessage = session.requestDeserialize(session.requestSerialize(out));
  assert.equal(back.kind, 'step_result');
  if (back.kind !== 'step_result') return;
  const r = back.step_result;
  assert.equal(r.step, 2 ** 40 + 3);
  assert.ok(Number.isNaN(r.loss_sum));
  assert.deepEqual(r.grads, [{ name: 'lora.A', shape: [4, 8] }]);
  assert.deepEqual(r.failed, [{ id: 'b', reason: 'bad png' }]);
  assert.equal(r.peak_rss_bytes, 3 * 2 ** 30);
  assert.equal(r.overflow, false);
  const overflowed: WorkerMessage = session.requestDeserialize(session.requestSerialize({ step_result: { ...out.step_result, grads: [], overflow: true } } satisfies WorkerMessageOut));
  assert.ok(overflowed.kind === 'step_result' && overflowed.step_result.overflow);

  const hello: WorkerMessage = session.requestDeserialize(session.requestSerialize({ hello: { worker_id: 'w1', loaded: null } } satisfies WorkerMessageOut));
  assert.deepEqual(hello, { kind: 'hello', hello: { worker_id: 'w1', loaded: null } });

  const empty: WorkerMessage = session.requestDeserialize(Buffer.alloc(0));
  assert.equal(empty.kind, undefined);
});

test('coordinator messages carry samples with optional bytes (COCO annotations included)', () => {
  const session = loadWireProtos().coordinator.definition.Session;
  const coco: pb.CocoImageInfo = {
    image_id: 'image_id_number',
    image_id_number: 42,
    width: 640,
    height: 480,
    annotation_file: 'ann.json',
    objects: [
      { category_id: 1, iscrowd: false, polygons: [{ xy: [0, 0, 10, 0, 10, 10] }], rle: null },
      { annotation_id: 'annotation_id_string', annotation_id_string: 'x7', category_id: 2, iscrowd: true, polygons: [], rle: { size: [480, 640], counts: 'compressed', compressed: 'abc' } },
    ],
  };
  const out: CoordinatorMessageOut = {
    step: {
      epoch: 1,
      step: 17,
      weights_version: 5,
      loss_scale: 1024,
      samples: [
        { id: 'by-id', bytes: null },
        {
          id: 'img1',
          bytes: { format: 'DATASET_FORMAT_COCO', id: 'img1', image_name: 'img1.png', image: Buffer.from([1, 2, 3]), mask_name: '', mask: Buffer.alloc(0), coco },
        },
      ],
    },
  };
  const back: CoordinatorMessage = session.responseDeserialize(session.responseSerialize(out));
  assert.equal(back.kind, 'step');
  if (back.kind !== 'step') return;
  assert.equal(back.step.loss_scale, 1024);
  const [byId, withBytes] = back.step.samples;
  assert.equal(byId.bytes, null);
  assert.ok(withBytes.bytes !== null);
  assert.equal(withBytes.bytes.format, 'DATASET_FORMAT_COCO');
  assert.deepEqual([...withBytes.bytes.image], [1, 2, 3]);
  const c = withBytes.bytes.coco;
  assert.ok(c !== null);
  assert.equal(c.image_id, 'image_id_number');
  assert.equal(c.image_id_number, 42);
  assert.equal(c.objects[0].annotation_id, undefined);
  assert.equal(c.objects[1].annotation_id_string, 'x7');
  assert.equal(c.objects[1].rle?.compressed, 'abc');
  assert.equal(c.objects[1].rle?.counts, 'compressed');
});

test('an enum value this build does not know arrives as its number (receivers must check)', () => {
  const session = loadWireProtos().coordinator.definition.Session;
  // WorkerMessage.tensor (field 5, length 2) holding TensorChunk.encoding (field 3) = 7.
  const back: WorkerMessage = session.requestDeserialize(Buffer.from([0x2a, 0x02, 0x18, 0x07]));
  assert.equal(back.kind, 'tensor');
  if (back.kind === 'tensor') assert.equal(back.tensor.encoding, 7);
});
