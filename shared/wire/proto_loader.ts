// Loads the wire contract (proto/samlora/v1/coordinator.proto and proto/grpc/health/v1/health.proto)
// at run time with @grpc/proto-loader and hands back typed gRPC service definitions and client
// constructors. The .proto files are found relative to the package root (the nearest directory
// above this module holding a package.json), so the same code works from the sources and from dist/.

import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { packageRoot } from '../fs/package_root.js';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type {
  CoordinatorMessage,
  CoordinatorMessageOut,
  HealthCheckRequest,
  HealthCheckResponse,
  JoinReply,
  JoinRequest,
  WorkerMessage,
  WorkerMessageOut,
} from './messages.js';
import { PreEncodedMessage, passPreEncoded } from './pre_encoded.js';

export type * from './messages.js';

/**
 * Version of the samlora.v1 protocol this build speaks (JoinRequest.protocol_version). Bumped on
 * every change to coordinator.proto; a coordinator refuses workers whose version it cannot speak.
 */
export const PROTOCOL_VERSION = 5;

/** Fully qualified service names (the `service` of a health check, the prefix of method paths). */
export const COORDINATOR_SERVICE = 'samlora.v1.Coordinator';
export const HEALTH_SERVICE = 'grpc.health.v1.Health';

/** The .proto files, relative to the proto directory. */
export const PROTO_FILES = ['samlora/v1/coordinator.proto', 'grpc/health/v1/health.proto'] as const;

/** The options every side must load the protos with: the message shapes in messages.ts rely on them. */
export const PROTO_LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
};

export class ProtoLoadError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'ProtoLoadError';
  }
}

/** `<package root>/proto`. */
export function defaultProtoDir(): string {
  return path.join(packageRoot(), 'proto');
}

// ---------------------------------------------------------------------------------------------
// Typed service shapes

/** Server-side implementation of samlora.v1.Coordinator. */
export interface CoordinatorHandlers extends grpc.UntypedServiceImplementation {
  Join: grpc.handleUnaryCall<JoinRequest, JoinReply>;
  Session: grpc.handleBidiStreamingCall<WorkerMessage, CoordinatorMessageOut | PreEncodedMessage>;
}

/** Client of samlora.v1.Coordinator (what `new CoordinatorClient(address, credentials, options)` gives). */
export interface CoordinatorClient extends grpc.Client {
  Join(request: JoinRequest, metadata: grpc.Metadata, options: Partial<grpc.CallOptions>, callback: grpc.requestCallback<JoinReply>): grpc.ClientUnaryCall;
  Join(request: JoinRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<JoinReply>): grpc.ClientUnaryCall;
  Join(request: JoinRequest, options: Partial<grpc.CallOptions>, callback: grpc.requestCallback<JoinReply>): grpc.ClientUnaryCall;
  Join(request: JoinRequest, callback: grpc.requestCallback<JoinReply>): grpc.ClientUnaryCall;
  Session(metadata: grpc.Metadata, options?: Partial<grpc.CallOptions>): grpc.ClientDuplexStream<WorkerMessageOut | PreEncodedMessage, CoordinatorMessage>;
  Session(options?: Partial<grpc.CallOptions>): grpc.ClientDuplexStream<WorkerMessageOut | PreEncodedMessage, CoordinatorMessage>;
}

/** Server-side implementation of grpc.health.v1.Health. */
export interface HealthHandlers extends grpc.UntypedServiceImplementation {
  Check: grpc.handleUnaryCall<HealthCheckRequest, HealthCheckResponse>;
  Watch: grpc.handleServerStreamingCall<HealthCheckRequest, HealthCheckResponse>;
}

/** Client of grpc.health.v1.Health. */
export interface HealthClient extends grpc.Client {
  Check(request: HealthCheckRequest, metadata: grpc.Metadata, options: Partial<grpc.CallOptions>, callback: grpc.requestCallback<HealthCheckResponse>): grpc.ClientUnaryCall;
  Check(request: HealthCheckRequest, options: Partial<grpc.CallOptions>, callback: grpc.requestCallback<HealthCheckResponse>): grpc.ClientUnaryCall;
  Check(request: HealthCheckRequest, callback: grpc.requestCallback<HealthCheckResponse>): grpc.ClientUnaryCall;
  Watch(request: HealthCheckRequest, metadata: grpc.Metadata, options?: Partial<grpc.CallOptions>): grpc.ClientReadableStream<HealthCheckResponse>;
  Watch(request: HealthCheckRequest, options?: Partial<grpc.CallOptions>): grpc.ClientReadableStream<HealthCheckResponse>;
}

/** A generated client class: construct with an address ("127.0.0.1:50051"), credentials and options. */
export interface ClientConstructor<C extends grpc.Client> {
  new (address: string, credentials: grpc.ChannelCredentials, options?: grpc.ClientOptions): C;
  service: grpc.ServiceDefinition;
  serviceName: string;
}

export interface WireProtos {
  /** Directory the protos were read from. */
  protoDir: string;
  coordinator: {
    /** For server.addService(definition, handlers). */
    definition: grpc.ServiceDefinition<CoordinatorHandlers>;
    Client: ClientConstructor<CoordinatorClient>;
  };
  health: {
    definition: grpc.ServiceDefinition<HealthHandlers>;
    Client: ClientConstructor<HealthClient>;
  };
  /** The raw package definition (serializers for every message type). */
  packageDefinition: protoLoader.PackageDefinition;
  /** Serializes a coordinator -> worker message once, to be written as is to many sessions. */
  encodeCoordinatorMessage(m: CoordinatorMessageOut): PreEncodedMessage;
}

type GrpcNode = grpc.GrpcObject | grpc.ServiceClientConstructor | grpc.ProtobufTypeDefinition;

function lookupService(root: grpc.GrpcObject, fullName: string, methods: readonly string[]): grpc.ServiceClientConstructor {
  let node: GrpcNode | undefined = root;
  for (const part of fullName.split('.')) {
    if (node === undefined || typeof node === 'function' || 'format' in node) { node = undefined; break; }
    node = (node as grpc.GrpcObject)[part];
  }
  if (typeof node !== 'function' || typeof node.service !== 'object') {
    throw new ProtoLoadError(`service ${fullName} is not defined by the loaded protos`);
  }
  for (const m of methods) {
    if (node.service[m] === undefined) throw new ProtoLoadError(`service ${fullName} has no method ${m}`);
  }
  return node;
}

function checkStreaming(def: grpc.ServiceDefinition, method: string, requestStream: boolean, responseStream: boolean): void {
  const m = def[method];
  if (m.requestStream !== requestStream || m.responseStream !== responseStream) {
    throw new ProtoLoadError(`method ${m.path} has unexpected streaming flags (request ${m.requestStream}, response ${m.responseStream})`);
  }
}

const cache = new Map<string, WireProtos>();

/**
 * Loads (once per directory; cached) both protos from `protoDir` (default `<package root>/proto`).
 * Throws ProtoLoadError when a file is missing or does not define the expected services.
 */
export function loadWireProtos(protoDir: string = defaultProtoDir()): WireProtos {
  const dir = path.resolve(protoDir);
  const hit = cache.get(dir);
  if (hit !== undefined) return hit;
  for (const f of PROTO_FILES) {
    if (!existsSync(path.join(dir, f))) throw new ProtoLoadError(`proto file ${path.join(dir, f)} not found`);
  }
  let packageDefinition: protoLoader.PackageDefinition;
  try {
    packageDefinition = protoLoader.loadSync([...PROTO_FILES], { ...PROTO_LOADER_OPTIONS, includeDirs: [dir] });
  } catch (e) {
    throw new ProtoLoadError(`cannot load the protos in ${dir}: ${(e as Error).message}`, { cause: e });
  }
  // Tensor chunks go out pre-serialized both ways: the coordinator's weights broadcast and the
  // workers' gradients (see pre_encoded.ts and packed_tensors.ts). Done before the client class is
  // made: it captures the serializers when it is built.
  const sessionDefinition = (packageDefinition[COORDINATOR_SERVICE] as grpc.ServiceDefinition | undefined)?.['Session'];
  if (sessionDefinition) {
    sessionDefinition.responseSerialize = passPreEncoded(sessionDefinition.responseSerialize);
    sessionDefinition.requestSerialize = passPreEncoded(sessionDefinition.requestSerialize);
  }
  const root = grpc.loadPackageDefinition(packageDefinition);
  const coordinator = lookupService(root, COORDINATOR_SERVICE, ['Join', 'Session']);
  const health = lookupService(root, HEALTH_SERVICE, ['Check', 'Watch']);
  checkStreaming(coordinator.service, 'Join', false, false);
  checkStreaming(coordinator.service, 'Session', true, true);
  checkStreaming(health.service, 'Check', false, false);
  checkStreaming(health.service, 'Watch', false, true);
  const session = coordinator.service['Session']!;
  // The one place where the untyped loader output meets the hand-written shapes: the services
  // were checked above to have exactly these methods and streaming kinds.
  const protos: WireProtos = {
    protoDir: dir,
    coordinator: {
      definition: coordinator.service as grpc.ServiceDefinition<CoordinatorHandlers>,
      Client: coordinator as unknown as ClientConstructor<CoordinatorClient>,
    },
    health: {
      definition: health.service as grpc.ServiceDefinition<HealthHandlers>,
      Client: health as unknown as ClientConstructor<HealthClient>,
    },
    packageDefinition,
    encodeCoordinatorMessage: (m) => new PreEncodedMessage(session.responseSerialize(m)),
  };
  cache.set(dir, protos);
  return protos;
}

/** Full method path, as seen by interceptors ("/samlora.v1.Coordinator/Join"). */
export function methodPath(service: string, method: string): string {
  return `/${service}/${method}`;
}
