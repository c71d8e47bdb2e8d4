import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { HealthService, UNAUTHENTICATED_HEALTH_METHODS, HEALTH_CHECK_METHOD, OVERALL } from '../../shared/wire/health.js';
import { COORDINATOR_SERVICE, type HealthCheckResponse, type HealthClient, loadWireProtos } from '../../shared/wire/proto_loader.js';
import { SharedToken, tokenAuthInterceptor, tokenClientInterceptor } from '../../shared/wire/security.js';
import { deadline, makeTempDir, type RunningServer, startServer, statusOf, trivialCoordinator, unary, within, writeTokenFile } from './helpers.js';

const tmp = makeTempDir();
const protos = loadWireProtos();
const health = new HealthService({ [OVERALL]: 'SERVING', [COORDINATOR_SERVICE]: 'SERVING' });
let srv: RunningServer;
let token: SharedToken;
const clients: grpc.Client[] = [];

before(async () => {
  token = await SharedToken.fromFile(writeTokenFile(tmp.dir));
  srv = await startServer(
    (s) => {
      s.addService(protos.coordinator.definition, trivialCoordinator());
      health.addTo(s);
    },
    undefined,
    { interceptors: [tokenAuthInterceptor({ token, exemptMethods: UNAUTHENTICATED_HEALTH_METHODS })] },
  );
});

after(() => {
  for (const c of clients) c.close();
  srv?.close();
  tmp.remove();
});

function client(withToken: boolean): HealthClient {
  const c = new protos.health.Client(srv.address, grpc.credentials.createInsecure(), withToken ? { interceptors: [tokenClientInterceptor(token)] } : {});
  clients.push(c);
  return c;
}

function check(c: HealthClient, service: string): Promise<HealthCheckResponse> {
  return unary<HealthCheckResponse>((cb) => c.Check({ service }, { deadline: deadline() }, cb));
}

test('only Check is exempt from the token', () => {
  assert.deepEqual(UNAUTHENTICATED_HEALTH_METHODS, [HEALTH_CHECK_METHOD]);
  assert.equal(HEALTH_CHECK_METHOD, '/grpc.health.v1.Health/Check');
});

test('Check works without a token: SERVING, then NOT_SERVING', async () => {
  const c = client(false);
  assert.deepEqual(await check(c, COORDINATOR_SERVICE), { status: 'SERVING' });
  assert.deepEqual(await check(c, OVERALL), { status: 'SERVING' });
  health.setStatus(COORDINATOR_SERVICE, 'NOT_SERVING');
  assert.deepEqual(await check(c, COORDINATOR_SERVICE), { status: 'NOT_SERVING' });
  assert.deepEqual(await check(c, OVERALL), { status: 'SERVING' });
  health.setStatus(COORDINATOR_SERVICE, 'SERVING');
  assert.deepEqual(await check(c, COORDINATOR_SERVICE), { status: 'SERVING' });
});

test('Check of an unknown service is NOT_FOUND', async () => {
  await assert.rejects(check(client(false), 'no.such.Service'), (e: unknown) => statusOf(e) === grpc.status.NOT_FOUND);
});

test('the other services still need the token', async () => {
  const c = new protos.coordinator.Client(srv.address, grpc.credentials.createInsecure());
  clients.push(c);
  await assert.rejects(
    unary((cb) => c.Join({ protocol_version: 1, software_version: '', capabilities: null }, { deadline: deadline() }, cb)),
    (e: unknown) => statusOf(e) === grpc.status.UNAUTHENTICATED,
  );
});

/** Opens a Watch and returns a function that waits for its next status. */
function watch(c: HealthClient, service: string): { next(): Promise<string | number>; status: Promise<grpc.StatusObject>; cancel(): void } {
  const call = c.Watch({ service }, { deadline: deadline(8000) });
  const queue: (string | number)[] = [];
  const waiting: ((s: string | number) => void)[] = [];
  call.on('data', (m: HealthCheckResponse) => {
    const w = waiting.shift();
    if (w) w(m.status);
    else queue.push(m.status);
  });
  call.on('error', () => undefined); // reported through `status`
  const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
  return {
    next: () => within(new Promise<string | number>((resolve) => (queue.length > 0 ? resolve(queue.shift()!) : waiting.push(resolve))), 4000, 'watch update'),
    status,
    cancel: () => call.cancel(),
  };
}

test('Watch needs the token', async () => {
  const w = watch(client(false), COORDINATOR_SERVICE);
  assert.equal((await within(w.status, 5000, 'watch status')).code, grpc.status.UNAUTHENTICATED);
});

test('Watch (with the token) streams the status and its changes', async () => {
  const w = watch(client(true), COORDINATOR_SERVICE);
  assert.equal(await w.next(), 'SERVING');
  assert.equal(health.watcherCount, 1);
  health.setStatus(COORDINATOR_SERVICE, 'SERVING'); // no change: nothing sent
  health.setStatus(COORDINATOR_SERVICE, 'NOT_SERVING');
  assert.equal(await w.next(), 'NOT_SERVING');
  health.setStatus(COORDINATOR_SERVICE, 'SERVING');
  assert.equal(await w.next(), 'SERVING');
  w.cancel();
  assert.equal((await within(w.status, 5000, 'watch end')).code, grpc.status.CANCELLED);

  const u = watch(client(true), 'later.Service');
  assert.equal(await u.next(), 'SERVICE_UNKNOWN');
  health.setStatus('later.Service', 'SERVING');
  assert.equal(await u.next(), 'SERVING');
  health.shutdown();
  assert.equal(await u.next(), 'NOT_SERVING');
  assert.equal(health.getStatus(COORDINATOR_SERVICE), 'NOT_SERVING');
  u.cancel();
  await within(u.status, 5000, 'watch end');
});
