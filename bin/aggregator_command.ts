// `sam-lora aggregator`: one per host (node), between the host's workers and the coordinator: it
// adds the host's gradients up and fetches each weights version once (aggregator/run_aggregator.ts).

import { hostname } from 'node:os';
import { runAggregator } from '../aggregator/run_aggregator.js';
import { LOG_ARG_OPTIONS, LOG_USAGE, logSettingsFromArgs } from '../shared/log/log_settings.js';
import type { ClientSecurity, ServerSecurity } from '../shared/wire/security.js';
import { UsageError, asUsage } from './cli_errors.js';
import { type ParsedArgs, defineCommand } from './define_command.js';
import { signalExitStatus } from './graceful_stop.js';
import { runToken } from './run_token.js';
import { asUpstreamFailure, checkGroupName, parseAddress, targetOf } from './worker_command.js';
import { workerLogging } from './worker_logging.js';

const USAGE = `usage: sam-lora aggregator --coordinator HOST:PORT --listen HOST:PORT [--group NAME] [--token-file FILE]
                          [--tls-ca F] [--listen-tls-cert F --listen-tls-key F] [--deadline SECONDS]
                          [--connect-attempts N] [--give-up-after SECONDS] [--log-level LEVEL] [--log-file FILE] [--log-pretty]

  Serves one host group (normally the workers of one node): the group's workers connect to it with
  \`sam-lora worker --aggregator HOST:PORT --coordinator ...\`; the coordinator sees it as one worker
  carrying the group's shares, and counts the group's workers for --min-workers. Per step it receives one weights version and sends one gradient sum
  (added exactly as the coordinator adds a group's gradients: same weights as without it), so the
  coordinator's traffic grows with the groups, not the workers. A worker that fails is evicted from
  the group and its samples go to the group's others; when the aggregator stops or dies, its workers
  connect to the coordinator directly. README "Host groups".

  --coordinator HOST:PORT    the coordinator's address
  --listen HOST:PORT         where the group's workers connect (127.0.0.1:50052 for one host; port 0: any)
  --group NAME               the group's name (default: this host's name, as the coordinator names a
                             worker's group); its workers give the same --group
  --token-file FILE          the run's shared secret (default: SAMLORA_TOKEN when set): presented to the
                             coordinator and required from the group's workers
  --tls-ca F                 connect to the coordinator over TLS, trusting this CA
  --listen-tls-cert F --listen-tls-key F
                             serve the group's workers over TLS with this certificate
  --deadline SECONDS         deadline of one step on one of the group's workers (default 600)
  --connect-attempts N       give up after N failed connections to the coordinator in a row
  --give-up-after SECONDS    give up when no coordinator could be reached for this long (exit 3)
${LOG_USAGE}

  Exit status: 0 the run is complete, 1 failed, 2 usage error, 3 no coordinator for --give-up-after
  seconds, 128 + the signal when a signal stopped it (its workers then go to the coordinator).
`;

const AGGREGATOR_OPTIONS = {
  coordinator: { type: 'string' },
  listen: { type: 'string' },
  group: { type: 'string' },
  'token-file': { type: 'string' },
  'tls-ca': { type: 'string' },
  'listen-tls-cert': { type: 'string' },
  'listen-tls-key': { type: 'string' },
  deadline: { type: 'string' },
  'connect-attempts': { type: 'string' },
  'give-up-after': { type: 'string' },
  ...LOG_ARG_OPTIONS,
} as const;

function positive(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!(n > 0 && Number.isFinite(n))) throw new UsageError(`${flag} must be a positive number (got ${v})`);
  return n;
}

async function runAggregatorCommand({ values }: ParsedArgs<typeof AGGREGATOR_OPTIONS>): Promise<number> {
  if (values.coordinator === undefined) throw new UsageError('missing --coordinator HOST:PORT');
  if (values.listen === undefined) throw new UsageError('missing --listen HOST:PORT (where the group\'s workers connect)');
  const coordinator = targetOf(parseAddress(values.coordinator));
  const listenAt = /:0$/.test(values.listen) ? values.listen : targetOf(parseAddress(values.listen, '--listen'));
  const group = values.group ?? hostname().replace(/[^\w.-]/g, '_').slice(0, 64);
  checkGroupName('--group', group);
  if (Boolean(values['listen-tls-cert']) !== Boolean(values['listen-tls-key'])) throw new UsageError('--listen-tls-cert and --listen-tls-key go together');
  const serverSecurity: ServerSecurity | undefined = values['listen-tls-cert'] ? { mode: 'tls', certFile: values['listen-tls-cert'], keyFile: values['listen-tls-key']! } : undefined;
  const upstreamSecurity: ClientSecurity | undefined = values['tls-ca'] !== undefined ? { mode: 'tls', caFile: values['tls-ca'] } : undefined;
  const deadline = positive('--deadline', values.deadline);
  const attempts = positive('--connect-attempts', values['connect-attempts']);
  const giveUp = positive('--give-up-after', values['give-up-after']);
  const logGiven = Object.keys(LOG_ARG_OPTIONS).some((k) => values[k as keyof typeof LOG_ARG_OPTIONS] !== undefined);
  const logging = workerLogging(logGiven ? asUsage(() => logSettingsFromArgs(values)) : undefined);
  const token = await runToken(values['token-file']);
  const stop = new AbortController();
  let stoppedBy: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    stoppedBy ??= signal;
    stop.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await runAggregator({
      coordinator,
      listen: listenAt,
      group,
      signal: stop.signal,
      ...(logging.log ? { log: logging.log } : {}),
      onListening: (address) => process.stderr.write(`sam-lora aggregator: group ${group} listening at ${address}\n`),
      ...(token ? { token } : {}),
      ...(serverSecurity ? { serverSecurity } : {}),
      ...(upstreamSecurity ? { upstreamSecurity } : {}),
      ...(deadline !== undefined ? { deadlineMs: deadline * 1000 } : {}),
      ...(attempts !== undefined ? { maxAttempts: Math.ceil(attempts) } : {}),
      ...(giveUp !== undefined ? { giveUpAfterMs: giveUp * 1000 } : {}),
    });
    return stoppedBy ? signalExitStatus(stoppedBy) : 0;
  } catch (err) {
    throw asUpstreamFailure(err);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

export const aggregatorCommand = defineCommand({
  name: 'aggregator',
  summary: "serve one host group: add its workers' gradients up before the coordinator (README \"Host groups\")",
  usage: USAGE,
  options: AGGREGATOR_OPTIONS,
  run: runAggregatorCommand,
});
