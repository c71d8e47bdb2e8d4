// Transport security of the wire:
//   - server and channel credentials: insecure, TLS (server certificate), mutual TLS (client
//     certificate required and checked against a client CA);
//   - a shared bearer token, read from a file or an environment variable (never from the command
//     line, where `ps` and shell history would show it), checked on every call by a server
//     interceptor (UNAUTHENTICATED when missing or wrong, constant-time comparison) and added to
//     every call by the client (call credentials on TLS channels, an interceptor on insecure ones).

import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { inspect } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { fileErrorReason } from '../errors/file_error.js';

/** Environment variable the token is read from by default. */
export const TOKEN_ENV_VAR = 'SAMLORA_TOKEN';
/** Shortest token accepted: 16 characters (e.g. `openssl rand -hex 32` gives 64). */
export const MIN_TOKEN_LENGTH = 16;
/** Metadata key that carries the token (`authorization: Bearer <token>`). */
export const AUTHORIZATION_KEY = 'authorization';

export class SecurityConfigError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'SecurityConfigError';
  }
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/**
 * The shared secret of a run. Created only from a file or an environment variable; its value never
 * appears in String(), JSON or util.inspect output.
 */
export class SharedToken {
  readonly #value: string;
  readonly #digest: Buffer;
  /** Where it came from, for messages ("file /etc/samlora/token", "env SAMLORA_TOKEN"). */
  readonly source: string;

  private constructor(value: string, source: string) {
    // Trailing newlines (echo ... > file) are not part of the token.
    const v = value.replace(/[\r\n]+$/, '');
    if (v.length === 0) throw new SecurityConfigError(`the token from ${source} is empty`);
    if (!/^[\x21-\x7e]+$/.test(v)) {
      throw new SecurityConfigError(`the token from ${source} must be printable ASCII without spaces (it travels in a header)`);
    }
    if (v.length < MIN_TOKEN_LENGTH) {
      throw new SecurityConfigError(`the token from ${source} has ${v.length} characters; use at least ${MIN_TOKEN_LENGTH} (e.g. openssl rand -hex 32)`);
    }
    this.#value = v;
    this.#digest = digest(v);
    this.source = source;
  }

  /**
   * Reads the token from a file: its whole content, less trailing newlines (so a second line is
   * refused, not ignored: both ends of a run read the file the same way). `what` names the file
   * in the message when it cannot be read (a flag, say).
   */
  static async fromFile(file: string, what = 'the token file'): Promise<SharedToken> {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      throw new SecurityConfigError(`cannot read ${what} ${file}: ${fileErrorReason(e)}`, { cause: e });
    }
    return new SharedToken(text, `file ${file}`);
  }

  /** Reads the token from an environment variable (default SAMLORA_TOKEN). */
  static fromEnv(name: string = TOKEN_ENV_VAR, env: NodeJS.ProcessEnv = process.env): SharedToken {
    const v = env[name];
    if (v === undefined) throw new SecurityConfigError(`environment variable ${name} (the shared token) is not set`);
    return new SharedToken(v, `env ${name}`);
  }

  /** From a file when `file` is given, else from the environment variable. */
  static async load(source: { file?: string; envVar?: string; env?: NodeJS.ProcessEnv }): Promise<SharedToken> {
    if (source.file !== undefined) return SharedToken.fromFile(source.file);
    return SharedToken.fromEnv(source.envVar, source.env);
  }

  /** Constant-time comparison with a presented token (time independent of where they differ and of their lengths). */
  matches(presented: string): boolean {
    return timingSafeEqual(digest(presented), this.#digest);
  }

  /** The `authorization` metadata value: "Bearer <token>". */
  authorizationValue(): string {
    return `Bearer ${this.#value}`;
  }

  toString(): string {
    return `SharedToken(${this.source}, redacted)`;
  }

  toJSON(): string {
    return this.toString();
  }

  [inspect.custom](): string {
    return this.toString();
  }
}

// ---------------------------------------------------------------------------------------------
// Server side

/**
 * Why the metadata does not authenticate the call, or undefined when it does. Messages never
 * include what was presented.
 */
export function checkAuthorization(metadata: grpc.Metadata, token: SharedToken): string | undefined {
  const values = metadata.get(AUTHORIZATION_KEY);
  if (values.length === 0) return `missing '${AUTHORIZATION_KEY}' metadata: this server requires 'authorization: Bearer <token>' (the run's shared token)`;
  if (values.length > 1) return `more than one '${AUTHORIZATION_KEY}' metadata value`;
  const v = values[0];
  if (typeof v !== 'string') return `'${AUTHORIZATION_KEY}' metadata must be text`;
  const m = /^Bearer +(\S+) *$/i.exec(v);
  if (m === null) return `'${AUTHORIZATION_KEY}' metadata must be 'Bearer <token>'`;
  if (!token.matches(m[1])) return 'invalid token: it does not match this server\'s shared token';
  return undefined;
}

export interface TokenAuthOptions {
  token: SharedToken;
  /**
   * Full method paths served without a token (e.g. health.HEALTH_CHECK_METHOD for probes).
   * Everything else, including unknown methods, requires the token.
   */
  exemptMethods?: Iterable<string>;
  /** Told of every call refused (metrics, logs); never given what was presented. */
  onRefused?: (method: string, problem: string) => void;
}

/**
 * A server interceptor (ServerOptions.interceptors) that checks the token on every call before
 * any handler runs, for every service on the server; a call without the right token ends with
 * UNAUTHENTICATED and the reason in its details.
 */
export function tokenAuthInterceptor(options: TokenAuthOptions): grpc.ServerInterceptor {
  const { token } = options;
  const exempt = new Set(options.exemptMethods ?? []);
  return (methodDescriptor, call) => {
    if (exempt.has(methodDescriptor.path)) return new grpc.ServerInterceptingCall(call);
    const listener = new grpc.ServerListenerBuilder()
      .withOnReceiveMetadata((metadata, next) => {
        const problem = checkAuthorization(metadata, token);
        if (problem === undefined) next(metadata);
        else {
          options.onRefused?.(methodDescriptor.path, problem);
          call.sendStatus({ code: grpc.status.UNAUTHENTICATED, details: problem });
        }
      })
      .build();
    const responder = new grpc.ResponderBuilder().withStart((next) => next(listener)).build();
    return new grpc.ServerInterceptingCall(call, responder);
  };
}

export type ServerSecurity =
  | { mode: 'insecure' }
  /** TLS: the server proves its identity; clients are not checked (use the token). */
  | { mode: 'tls'; certFile: string; keyFile: string }
  /** Mutual TLS: as tls, and every client must present a certificate signed by clientCaFile. */
  | { mode: 'mtls'; certFile: string; keyFile: string; clientCaFile: string };

async function readPem(file: string, role: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (e) {
    throw new SecurityConfigError(`cannot read the ${role} ${file}: ${(e as Error).message}`, { cause: e });
  }
}

/** Server credentials for server.bindAsync. */
export async function serverCredentials(security: ServerSecurity): Promise<grpc.ServerCredentials> {
  switch (security.mode) {
    case 'insecure':
      return grpc.ServerCredentials.createInsecure();
    case 'tls':
    case 'mtls': {
      const cert_chain = await readPem(security.certFile, 'server certificate');
      const private_key = await readPem(security.keyFile, 'server private key');
      const clientCa = security.mode === 'mtls' ? await readPem(security.clientCaFile, 'client CA certificate') : null;
      try {
        return grpc.ServerCredentials.createSsl(clientCa, [{ cert_chain, private_key }], security.mode === 'mtls');
      } catch (e) {
        throw new SecurityConfigError(`invalid server TLS material: ${(e as Error).message}`, { cause: e });
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Client side

export type ClientSecurity =
  | { mode: 'insecure' }
  /** TLS: verify the server against caFile (default: the system's roots). */
  | { mode: 'tls'; caFile?: string }
  /** Mutual TLS: as tls, and present certFile/keyFile to the server. */
  | { mode: 'mtls'; caFile?: string; certFile: string; keyFile: string };

/** Call credentials that add the token to every call (for TLS channels; gRPC refuses them on insecure ones). */
export function tokenCallCredentials(token: SharedToken): grpc.CallCredentials {
  return grpc.credentials.createFromMetadataGenerator((_params, callback) => {
    const md = new grpc.Metadata();
    md.set(AUTHORIZATION_KEY, token.authorizationValue());
    callback(null, md);
  });
}

/**
 * A client interceptor that adds the token to every call's metadata. Works on any channel; on an
 * insecure one the token travels in clear text, so use that only on loopback or a trusted network.
 */
export function tokenClientInterceptor(token: SharedToken): grpc.Interceptor {
  return (options, nextCall) =>
    new grpc.InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        metadata.set(AUTHORIZATION_KEY, token.authorizationValue());
        next(metadata, listener);
      },
    });
}

export interface ClientConnectionSecurity {
  credentials: grpc.ChannelCredentials;
  /** Spread into the client options (holds the token interceptor on insecure channels). */
  options: Pick<grpc.ClientOptions, 'interceptors'>;
}

/**
 * Channel credentials (+ client options) for a security mode, adding the token to every call when
 * given: as call credentials on TLS channels, through tokenClientInterceptor on insecure ones.
 */
export async function clientSecurity(security: ClientSecurity, token?: SharedToken): Promise<ClientConnectionSecurity> {
  if (security.mode === 'insecure') {
    return {
      credentials: grpc.credentials.createInsecure(),
      options: token === undefined ? {} : { interceptors: [tokenClientInterceptor(token)] },
    };
  }
  const ca = security.caFile !== undefined ? await readPem(security.caFile, 'CA certificate') : null;
  const key = security.mode === 'mtls' ? await readPem(security.keyFile, 'client private key') : null;
  const cert = security.mode === 'mtls' ? await readPem(security.certFile, 'client certificate') : null;
  let credentials: grpc.ChannelCredentials;
  try {
    credentials = grpc.credentials.createSsl(ca, key, cert);
  } catch (e) {
    throw new SecurityConfigError(`invalid client TLS material: ${(e as Error).message}`, { cause: e });
  }
  if (token !== undefined) credentials = credentials.compose(tokenCallCredentials(token));
  return { credentials, options: {} };
}
