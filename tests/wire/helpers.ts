// Test helpers for the wire: a real gRPC server on 127.0.0.1 (ephemeral port), promise wrappers
// with deadlines, backpressure-aware stream writes and throwaway certificates made with openssl.

import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { PROTOCOL_VERSION, type CoordinatorHandlers, type JoinReply, type JoinRequest } from '../../shared/wire/proto_loader.js';

/** Every call in these tests gets a deadline this far away. */
export const CALL_TIMEOUT_MS = 5000;

export function deadline(ms: number = CALL_TIMEOUT_MS): Date {
  return new Date(Date.now() + ms);
}

export interface RunningServer {
  server: grpc.Server;
  port: number;
  /** "127.0.0.1:<port>". */
  address: string;
  close(): void;
}

/** Starts a server on 127.0.0.1:0 after `setup` added its services. */
export async function startServer(
  setup: (server: grpc.Server) => void,
  credentials: grpc.ServerCredentials = grpc.ServerCredentials.createInsecure(),
  options: grpc.ServerOptions = {},
): Promise<RunningServer> {
  const server = new grpc.Server(options);
  setup(server);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', credentials, (err, p) => (err ? reject(err) : resolve(p)));
  });
  return { server, port, address: `127.0.0.1:${port}`, close: () => server.forceShutdown() };
}

/** Rejects with a timeout error when `promise` has not settled after `ms`. */
export async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Promise of a unary call made with a callback-style client method. */
export function unary<T>(start: (callback: grpc.requestCallback<T>) => unknown): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    start((err, value) => {
      if (err !== null) reject(err);
      else if (value === undefined) reject(new Error('no response'));
      else resolve(value);
    });
  });
}

/** The gRPC status code of an error from a call. */
export function statusOf(e: unknown): number | undefined {
  return typeof e === 'object' && e !== null && 'code' in e && typeof e.code === 'number' ? e.code : undefined;
}

export { writeAll } from '../../shared/wire/stream_io.js';

export function sampleJoinRequest(): JoinRequest {
  return {
    protocol_version: PROTOCOL_VERSION,
    software_version: '0.1.0',
    capabilities: { device: 'cpu', gpu_index: -1, threads: 4, hostname: 'test-host', cuda_available: false },
  };
}

/** A Join handler that admits everyone; Session ends immediately. */
export function trivialCoordinator(): CoordinatorHandlers {
  return {
    Join: (call, callback) => {
      const reply: JoinReply = {
        worker_id: `worker-${call.request.capabilities?.hostname ?? 'unknown'}`,
        run_id: 'run-1',
        config_yaml: 'model: {}\n',
        fingerprint: { variant: 'vit_b', checkpoint_sha256: 'ab'.repeat(32), lora_layout_hash: 'cd'.repeat(16) },
        samples_as_bytes: false,
        max_message_bytes: 16 * 1024 * 1024,
        tensor_encoding: 'FP32',
        heartbeat_interval_ms: 1000,
        coordinator_timeout_ms: 0,
      };
      callback(null, reply);
    },
    Session: (call) => {
      call.write({ stop: { reason: 'nothing to do', kind: 'STOP_RUN_COMPLETE', reconnect_after_ms: 0 } });
      call.end();
    },
  };
}

/** A random token written to a 0600 file in `dir`. */
export function writeTokenFile(dir: string, name = 'token'): string {
  const file = path.join(dir, name);
  writeFileSync(file, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
  return file;
}

export function makeTempDir(prefix = 'samlora-wire-'): { dir: string; remove(): void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore', timeout: 5000 });
    return true;
  } catch {
    return false;
  }
}

export interface TestCerts {
  caCert: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
  /** A client certificate signed by another CA, which the server must not accept. */
  rogueClientCert: string;
  rogueClientKey: string;
  /** A CA that did not sign the server certificate. */
  otherCaCert: string;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'], timeout: 15000 });
}

function makeCa(dir: string, name: string): { cert: string; key: string } {
  const key = path.join(dir, `${name}.key`);
  const cert = path.join(dir, `${name}.crt`);
  openssl(dir, [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=${name}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  chmodSync(key, 0o600);
  return { cert, key };
}

function makeLeaf(dir: string, name: string, ca: { cert: string; key: string }, extensions: string): { cert: string; key: string } {
  const key = path.join(dir, `${name}.key`);
  const csr = path.join(dir, `${name}.csr`);
  const cert = path.join(dir, `${name}.crt`);
  const ext = path.join(dir, `${name}.ext`);
  writeFileSync(ext, extensions);
  openssl(dir, ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', csr, '-subj', `/CN=${name}`]);
  openssl(dir, [
    'x509', '-req', '-in', csr, '-CA', ca.cert, '-CAkey', ca.key, '-set_serial', `0x${randomBytes(8).toString('hex')}`,
    '-out', cert, '-days', '2', '-extfile', ext,
  ]);
  chmodSync(key, 0o600);
  return { cert, key };
}

/** A CA, a server certificate for 127.0.0.1 / localhost, client certificates (trusted and rogue). */
export function generateCerts(dir: string): TestCerts {
  const ca = makeCa(dir, 'samlora-test-ca');
  const other = makeCa(dir, 'samlora-other-ca');
  const server = makeLeaf(dir, 'server', ca, [
    'basicConstraints=CA:FALSE',
    'keyUsage=critical,digitalSignature,keyEncipherment',
    'extendedKeyUsage=serverAuth',
    'subjectAltName=IP:127.0.0.1,DNS:localhost',
    '',
  ].join('\n'));
  const clientExt = ['basicConstraints=CA:FALSE', 'keyUsage=critical,digitalSignature', 'extendedKeyUsage=clientAuth', ''].join('\n');
  const client = makeLeaf(dir, 'client', ca, clientExt);
  const rogue = makeLeaf(dir, 'rogue-client', other, clientExt);
  return {
    caCert: ca.cert,
    serverCert: server.cert,
    serverKey: server.key,
    clientCert: client.cert,
    clientKey: client.key,
    rogueClientCert: rogue.cert,
    rogueClientKey: rogue.key,
    otherCaCert: other.cert,
  };
}
