// The worker process's logs: pino JSON lines on stderr (or --log-file), bound to the run and the
// worker id once the coordinator admits it. The local launcher reads these lines back (see
// launcher/worker_stderr.ts), so they reach the coordinator's dashboard and logs.

import { createLogger } from '../shared/log/logger.js';
import type { LogSettings } from '../shared/log/log_settings.js';
import type { RemoteWorkerOptions } from '../worker/grpc_worker.js';

export function workerLogging(settings: LogSettings = { level: 'info', pretty: false }): Pick<RemoteWorkerOptions, 'log' | 'onJoined'> {
  const base = createLogger(settings, { bindings: { role: 'worker' } });
  let logger = base;
  return {
    log: (line, level = 'info') => logger[level](line),
    onJoined: ({ runId, workerId }) => {
      logger = base.child({ runId, workerId });
    },
  };
}
