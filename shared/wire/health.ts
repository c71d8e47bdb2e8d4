// The standard gRPC health service (grpc.health.v1.Health, proto/grpc/health/v1/health.proto).
//
// Authentication: Check is meant for probes (load balancers, orchestrators, grpc_health_probe),
// which carry no token, so servers exempt HEALTH_CHECK_METHOD from the token interceptor
// (security.tokenAuthInterceptor's exemptMethods). It reveals nothing but SERVING / NOT_SERVING for
// a service name. Watch stays behind the token: it holds a stream open per caller, which an
// unauthenticated peer could use to pile up server resources.

import * as grpc from '@grpc/grpc-js';
import type { HealthCheckResponse, ServingStatus } from './messages.js';
import { HEALTH_SERVICE, type HealthHandlers, loadWireProtos, methodPath } from './proto_loader.js';

/** Method paths, for interceptors. */
export const HEALTH_CHECK_METHOD = methodPath(HEALTH_SERVICE, 'Check');
export const HEALTH_WATCH_METHOD = methodPath(HEALTH_SERVICE, 'Watch');
/** The methods servers serve without a token (see the note at the top). */
export const UNAUTHENTICATED_HEALTH_METHODS: readonly string[] = [HEALTH_CHECK_METHOD];

/** What a service can be set to. */
export type SettableStatus = 'SERVING' | 'NOT_SERVING';

/** Service name of the server as a whole. */
export const OVERALL = '';

/** Longest service name looked up (longer ones are answered as unknown). */
const MAX_SERVICE_NAME = 512;

/**
 * Holds each service's serving status and serves Check / Watch. `''` is the server as a whole.
 * Check of a service never set answers NOT_FOUND; Watch answers SERVICE_UNKNOWN and follows it.
 */
export class HealthService {
  private readonly statuses = new Map<string, SettableStatus>();
  private readonly watchers = new Map<string, Set<(status: ServingStatus) => void>>();
  readonly handlers: HealthHandlers;

  constructor(initial: Readonly<Record<string, SettableStatus>> = {}) {
    for (const [service, status] of Object.entries(initial)) this.setStatus(service, status);
    this.handlers = {
      Check: (call, callback) => {
        const service = call.request.service;
        const status = this.statuses.get(service);
        if (status === undefined) {
          callback({ code: grpc.status.NOT_FOUND, details: `unknown service ${JSON.stringify(service.slice(0, MAX_SERVICE_NAME))}` });
          return;
        }
        callback(null, { status });
      },
      Watch: (call) => {
        const service = call.request.service;
        const send = (status: ServingStatus): void => {
          const reply: HealthCheckResponse = { status };
          call.write(reply);
        };
        send(this.currentForWatch(service));
        let set = this.watchers.get(service);
        if (set === undefined) {
          set = new Set();
          this.watchers.set(service, set);
        }
        set.add(send);
        const remove = (): void => {
          const s = this.watchers.get(service);
          if (s === undefined) return;
          s.delete(send);
          if (s.size === 0) this.watchers.delete(service);
        };
        call.on('cancelled', remove);
        call.on('close', remove);
        call.on('error', remove);
      },
    };
  }

  /** Sets a service's status and tells its watchers when it changed. */
  setStatus(service: string, status: SettableStatus): void {
    if (status !== 'SERVING' && status !== 'NOT_SERVING') throw new Error(`invalid serving status ${String(status)}`);
    const before = this.statuses.get(service);
    this.statuses.set(service, status);
    if (before !== status) this.notify(service, status);
  }

  /** The status set for a service, or undefined. */
  getStatus(service: string): SettableStatus | undefined {
    return this.statuses.get(service);
  }

  /** Marks every registered service NOT_SERVING (call when the server starts shutting down). */
  shutdown(): void {
    for (const service of [...this.statuses.keys()]) this.setStatus(service, 'NOT_SERVING');
  }

  /** Number of open Watch streams (for tests and metrics). */
  get watcherCount(): number {
    let n = 0;
    for (const s of this.watchers.values()) n += s.size;
    return n;
  }

  /** Registers grpc.health.v1.Health with these handlers on a server. */
  addTo(server: grpc.Server, protoDir?: string): void {
    server.addService(loadWireProtos(protoDir).health.definition, this.handlers);
  }

  private currentForWatch(service: string): ServingStatus {
    return this.statuses.get(service) ?? 'SERVICE_UNKNOWN';
  }

  private notify(service: string, status: ServingStatus): void {
    const set = this.watchers.get(service);
    if (set === undefined) return;
    for (const send of [...set]) send(status);
  }
}
