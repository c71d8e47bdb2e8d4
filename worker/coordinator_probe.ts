// Whether a coordinator server serves: one grpc.health.v1 Check of samlora.v1.Coordinator (which
// the coordinator's server, and an aggregator's, answers SERVING from the moment it listens), over
// the same TLS and token as a session. A worker whose aggregator cannot be reached asks this of the
// coordinator before it counts the failure against the aggregator: while the coordinator is not up
// either (still preparing the run, or restarting), the aggregator cannot be up, since it opens its
// port only after joining it. A worker demoted to the coordinator asks it of its aggregator, to
// return to it once it serves again.

import * as grpc from '@grpc/grpc-js';
import { COORDINATOR_SERVICE, loadWireProtos } from '../shared/wire/proto_loader.js';
import { type ClientSecurity, type SharedToken, clientSecurity } from '../shared/wire/security.js';

/** How long one probe may take before it counts as "not serving". */
export const PROBE_DEADLINE_MS = 5000;

export interface ProbeOptions {
  security?: ClientSecurity;
  token?: SharedToken;
  deadlineMs?: number;
}

/** True when the coordinator (or aggregator) at `address` answers SERVING within the deadline; false on anything else. */
export async function coordinatorServes(address: string, o: ProbeOptions = {}): Promise<boolean> {
  const sec = await clientSecurity(o.security ?? { mode: 'insecure' }, o.token);
  const client = new (loadWireProtos().health.Client)(address, sec.credentials, sec.options);
  try {
    return await new Promise<boolean>((resolve) => {
      client.Check({ service: COORDINATOR_SERVICE }, { deadline: new Date(Date.now() + (o.deadlineMs ?? PROBE_DEADLINE_MS)) }, (err: grpc.ServiceError | null, reply) =>
        resolve(!err && reply?.status === 'SERVING'),
      );
    });
  } finally {
    client.close();
  }
}
