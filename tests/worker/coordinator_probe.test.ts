// coordinatorServes: true against a coordinator's server (also with a token: Check needs none, the
// token a worker presents does no harm), false within its deadline where nothing listens or once the
// coordinator stopped.

import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { CoordinatorServer } from '../../coordinator/grpc/coordinator_server.js';
import { WorkerPool } from '../../coordinator/worker_pool.js';
import { SharedToken } from '../../shared/wire/security.js';
import { coordinatorServes } from '../../worker/coordinator_probe.js';
import { freePort, within } from '../distributed/worker_process.js';

const token = SharedToken.fromEnv('T', { T: 'probe-token-0123456789abcdef' });
const servers: CoordinatorServer[] = [];
after(() => servers.forEach((s) => s.forceStop()));

async function coordinator(): Promise<CoordinatorServer> {
  const fingerprint = { variant: 'test', checkpoint_sha256: 'none', lora_layout_hash: 'layout' };
  const s = await CoordinatorServer.start({ listen: '127.0.0.1:0', pool: new WorkerPool(1), runId: 'probe', configYaml: '', fingerprint, trainable: new Map(), token, completionGraceMs: 0 });
  servers.push(s);
  return s;
}

describe('coordinatorServes', () => {
  it('is true for a coordinator that listens, with or without its token', async () => {
    const s = await coordinator();
    assert.equal(await within(10_000, 'probe', coordinatorServes(s.address, { token })), true);
    assert.equal(await within(10_000, 'probe', coordinatorServes(s.address)), true);
  });

  it('is false where nothing listens, and once the coordinator stopped', async () => {
    assert.equal(await within(10_000, 'probe', coordinatorServes(`127.0.0.1:${await freePort()}`, { deadlineMs: 2000 })), false);
    const s = await coordinator();
    await s.stop(false);
    assert.equal(await within(10_000, 'probe', coordinatorServes(s.address, { token, deadlineMs: 2000 })), false);
  });
});
