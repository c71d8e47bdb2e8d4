import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { inspect } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { type CoordinatorClient, type CoordinatorMessage, type JoinReply, loadWireProtos } from '../../shared/wire/proto_loader.js';
import { OPENSSL, skipWithout } from '../helpers/required_tool.js';
import {
  AUTHORIZATION_KEY,
  checkAuthorization,
  clientSecurity,
  type ClientSecurity,
  SecurityConfigError,
  serverCredentials,
  SharedToken,
  tokenAuthInterceptor,
  tokenClientInterceptor,
} from '../../shared/wire/security.js';
import {
  deadline,
  generateCerts,
  hasOpenssl,
  makeTempDir,
  type RunningServer,
  sampleJoinRequest,
  startServer,
  statusOf,
  type TestCerts,
  trivialCoordinator,
  unary,
  within,
  writeTokenFile,
} from './helpers.js';

const tmp = makeTempDir();
after(() => tmp.remove());

const GOOD = 'a'.repeat(20) + 'GOOD';
const OTHER = 'a'.repeat(20) + 'BAD!';

describe('SharedToken', () => {
  test('reads a file (less trailing newlines) and an environment variable', async () => {
    const file = path.join(tmp.dir, 'tok1');
    writeFileSync(file, `${GOOD}\r\n`, { mode: 0o600 });
    const fromFile = await SharedToken.fromFile(file);
    assert.ok(fromFile.matches(GOOD));
    assert.ok(!fromFile.matches(`${GOOD}\n`));
    assert.equal(fromFile.source, `file ${file}`);
    const fromEnv = SharedToken.fromEnv('MY_TOKEN', { MY_TOKEN: GOOD });
    assert.ok(fromEnv.matches(GOOD));
    assert.ok(!fromEnv.matches(OTHER));
    assert.ok(!fromEnv.matches(''));
    assert.ok(!fromEnv.matches(GOOD + GOOD));
    assert.ok((await SharedToken.load({ envVar: 'X', env: { X: GOOD } })).matches(GOOD));
    assert.ok((await SharedToken.load({ file })).matches(GOOD));
  });

  test('never shows its value', () => {
    const t = SharedToken.fromEnv('T', { T: GOOD });
    for (const s of [String(t), JSON.stringify({ t }), inspect(t), inspect({ nested: t }, { depth: 5 }), `${t}`]) {
      assert.ok(!s.includes(GOOD), s);
    }
  });

  test('refuses missing, empty, short and non-header-safe tokens with clear errors', async () => {
    await assert.rejects(SharedToken.fromFile(path.join(tmp.dir, 'absent')), (e: unknown) => e instanceof SecurityConfigError && /cannot read the token file/.test(e.message));
    assert.throws(() => SharedToken.fromEnv('NOPE', {}), /NOPE .*not set/);
    assert.throws(() => SharedToken.fromEnv('T', { T: '\n' }), /empty/);
    assert.throws(() => SharedToken.fromEnv('T', { T: 'short' }), /at least 16/);
    assert.throws(() => SharedToken.fromEnv('T', { T: `${GOOD} with spaces` }), /printable ASCII/);
  });

  test('a token file holds the token alone: a trailing newline is ignored, a second line or spaces are refused', async () => {
    const file = path.join(tmp.dir, 'tok-rule');
    writeFileSync(file, `${GOOD}\n\n`);
    assert.ok((await SharedToken.fromFile(file)).matches(GOOD));
    for (const text of [`${GOOD}\nsecond line\n`, `  ${GOOD} \n`]) {
      writeFileSync(file, text);
      await assert.rejects(SharedToken.fromFile(file), (e: unknown) => e instanceof SecurityConfigError && e.message.includes(file) && /printable ASCII/.test(e.message) && !e.message.includes(GOOD));
    }
    writeFileSync(file, '\n');
    await assert.rejects(SharedToken.fromFile(file), /is empty/);
    await assert.rejects(SharedToken.fromFile(path.join(tmp.dir, 'absent'), '--token-file'), /^SecurityConfigError: cannot read --token-file \S+absent: no such file$/);
    await assert.rejects(SharedToken.fromFile(tmp.dir), /: is a directory$/);
  });

  test('checkAuthorization explains each failure without echoing what was sent', () => {
    const t = SharedToken.fromEnv('T', { T: GOOD });
    const md = (v?: string[]): grpc.Metadata => {
      const m = new grpc.Metadata();
      for (const x of v ?? []) m.add(AUTHORIZATION_KEY, x);
      return m;
    };
    assert.equal(checkAuthorization(md([`Bearer ${GOOD}`]), t), undefined);
    assert.equal(checkAuthorization(md([`bearer ${GOOD}`]), t), undefined);
    assert.match(checkAuthorization(md(), t) ?? '', /missing 'authorization'/);
    assert.match(checkAuthorization(md([GOOD]), t) ?? '', /must be 'Bearer <token>'/);
    assert.match(checkAuthorization(md([`Basic ${GOOD}`]), t) ?? '', /must be 'Bearer <token>'/);
    assert.match(checkAuthorization(md([`Bearer ${GOOD}`, `Bearer ${GOOD}`]), t) ?? '', /more than one/);
    const wrong = checkAuthorization(md([`Bearer ${OTHER}`]), t) ?? '';
    assert.match(wrong, /invalid token/);
    assert.ok(!wrong.includes(OTHER));
  });
});

// ---------------------------------------------------------------------------------------------
// Token over a real (insecure, loopback) connection

describe('token on every call', () => {
  let srv: RunningServer;
  let token: SharedToken;
  const clients: grpc.Client[] = [];
  const protos = loadWireProtos();

  before(async () => {
    token = await SharedToken.fromFile(writeTokenFile(tmp.dir, 'server-token'));
    srv = await startServer(
      (s) => s.addService(protos.coordinator.definition, trivialCoordinator()),
      undefined,
      { interceptors: [tokenAuthInterceptor({ token })] },
    );
  });
  after(() => {
    for (const c of clients) c.close();
    srv?.close();
  });

  function client(options: grpc.ClientOptions = {}): CoordinatorClient {
    const c = new protos.coordinator.Client(srv.address, grpc.credentials.createInsecure(), options);
    clients.push(c);
    return c;
  }

  async function join(c: CoordinatorClient): Promise<JoinReply> {
    return unary<JoinReply>((cb) => c.Join(sampleJoinRequest(), { deadline: deadline() }, cb));
  }

  test('Join with the right token is answered', async () => {
    const sec = await clientSecurity({ mode: 'insecure' }, token);
    const reply = await join(client(sec.options));
    assert.equal(reply.worker_id, 'worker-test-host');
    assert.equal(reply.tensor_encoding, 'FP32');
  });

  test('Join without a token is UNAUTHENTICATED with a clear message', async () => {
    await assert.rejects(join(client()), (e: unknown) => {
      assert.equal(statusOf(e), grpc.status.UNAUTHENTICATED);
      assert.match((e as grpc.ServiceError).details, /missing 'authorization' metadata/);
      return true;
    });
  });

  test('Join with a wrong token is UNAUTHENTICATED', async () => {
    const wrong = SharedToken.fromEnv('T', { T: OTHER + 'xxxxxxxx' });
    await assert.rejects(join(client({ interceptors: [tokenClientInterceptor(wrong)] })), (e: unknown) => {
      assert.equal(statusOf(e), grpc.status.UNAUTHENTICATED);
      assert.match((e as grpc.ServiceError).details, /invalid token/);
      return true;
    });
  });

  test('the Session stream is checked too', async () => {
    async function session(c: CoordinatorClient): Promise<{ messages: CoordinatorMessage[]; code: number }> {
      const call = c.Session({ deadline: deadline() });
      const messages: CoordinatorMessage[] = [];
      call.on('error', () => undefined); // the status event below carries the outcome
      call.on('data', (m: CoordinatorMessage) => messages.push(m));
      const code = await within(
        new Promise<number>((resolve) => call.on('status', (s: grpc.StatusObject) => resolve(s.code))),
        6000,
        'session status',
      );
      return { messages, code };
    }
    const denied = await session(client());
    assert.equal(denied.code, grpc.status.UNAUTHENTICATED);
    assert.equal(denied.messages.length, 0);
    const ok = await session(client({ interceptors: [tokenClientInterceptor(token)] }));
    assert.equal(ok.code, grpc.status.OK);
    assert.deepEqual(ok.messages, [{ kind: 'stop', stop: { reason: 'nothing to do', kind: 'STOP_RUN_COMPLETE', reconnect_after_ms: 0 } }]);
  });
});

// ---------------------------------------------------------------------------------------------
// TLS and mutual TLS

const openssl = hasOpenssl();

describe('TLS and mutual TLS', { skip: skipWithout(openssl, OPENSSL) }, () => {
  let certs: TestCerts;
  let tls: RunningServer;
  let mtls: RunningServer;
  let token: SharedToken;
  const clients: grpc.Client[] = [];
  const protos = loadWireProtos();

  before(async () => {
    certs = generateCerts(tmp.dir);
    token = await SharedToken.fromFile(writeTokenFile(tmp.dir, 'tls-token'));
    const add = (s: grpc.Server): void => s.addService(protos.coordinator.definition, trivialCoordinator());
    const interceptors = [tokenAuthInterceptor({ token })];
    tls = await startServer(add, await serverCredentials({ mode: 'tls', certFile: certs.serverCert, keyFile: certs.serverKey }), { interceptors });
    mtls = await startServer(
      add,
      await serverCredentials({ mode: 'mtls', certFile: certs.serverCert, keyFile: certs.serverKey, clientCaFile: certs.caCert }),
      { interceptors },
    );
  });
  after(() => {
    for (const c of clients) c.close();
    tls?.close();
    mtls?.close();
  });

  async function joinWith(server: RunningServer, security: ClientSecurity, withToken = true, host = '127.0.0.1'): Promise<number | undefined> {
    const sec = await clientSecurity(security, withToken ? token : undefined);
    const c = new protos.coordinator.Client(`${host}:${server.port}`, sec.credentials, sec.options);
    clients.push(c);
    try {
      await unary<JoinReply>((cb) => c.Join(sampleJoinRequest(), { deadline: deadline(4000) }, cb));
      return grpc.status.OK;
    } catch (e) {
      return statusOf(e);
    }
  }

  test('TLS: a client trusting the CA connects (by IP and by name), the token rides as call credentials', async () => {
    assert.equal(await joinWith(tls, { mode: 'tls', caFile: certs.caCert }), grpc.status.OK);
    assert.equal(await joinWith(tls, { mode: 'tls', caFile: certs.caCert }, true, 'localhost'), grpc.status.OK);
  });

  test('TLS: still needs the token', async () => {
    assert.equal(await joinWith(tls, { mode: 'tls', caFile: certs.caCert }, false), grpc.status.UNAUTHENTICATED);
  });

  test('TLS: a client trusting another CA fails', async () => {
    assert.equal(await joinWith(tls, { mode: 'tls', caFile: certs.otherCaCert }), grpc.status.UNAVAILABLE);
  });

  test('TLS: a plaintext client fails', async () => {
    assert.equal(await joinWith(tls, { mode: 'insecure' }), grpc.status.UNAVAILABLE);
  });

  test('mTLS: a client with a certificate from the CA connects', async () => {
    assert.equal(await joinWith(mtls, { mode: 'mtls', caFile: certs.caCert, certFile: certs.clientCert, keyFile: certs.clientKey }), grpc.status.OK);
  });

  test('mTLS: a client without a certificate fails', async () => {
    assert.equal(await joinWith(mtls, { mode: 'tls', caFile: certs.caCert }), grpc.status.UNAVAILABLE);
  });

  test('mTLS: a client certificate from another CA fails', async () => {
    assert.equal(
      await joinWith(mtls, { mode: 'mtls', caFile: certs.caCert, certFile: certs.rogueClientCert, keyFile: certs.rogueClientKey }),
      grpc.status.UNAVAILABLE,
    );
  });

  test('unreadable certificate files are clear configuration errors', async () => {
    await assert.rejects(
      serverCredentials({ mode: 'tls', certFile: path.join(tmp.dir, 'nope.crt'), keyFile: certs.serverKey }),
      (e: unknown) => e instanceof SecurityConfigError && /server certificate .*nope\.crt/.test(e.message),
    );
    await assert.rejects(
      clientSecurity({ mode: 'mtls', caFile: certs.caCert, certFile: certs.clientCert, keyFile: path.join(tmp.dir, 'nope.key') }),
      (e: unknown) => e instanceof SecurityConfigError && /client private key/.test(e.message),
    );
  });
});
