// An aggregator process of the local launcher (`sam-lora train --workers K --groups G`): one
// `sam-lora aggregator` per host group, its log lines forwarded like a worker's, and the address its
// group's workers connect to, read from the line it prints once it listens.

import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { parseLogLine } from '../shared/log/log_line.js';
import type { NoteLevel } from '../coordinator/run_notes.js';

export interface AggregatorProcess {
  child: ChildProcess;
  /** Where its group's workers connect; rejects when it exits first. */
  address: Promise<string>;
}

export function startAggregator(cli: string, coordinator: string, group: string, env: NodeJS.ProcessEnv, say: (line: string, level: NoteLevel) => void, logLevel?: string): AggregatorProcess {
  const args = [cli, 'aggregator', '--coordinator', coordinator, '--listen', '127.0.0.1:0', '--group', group, '--connect-attempts', '5', ...(logLevel ? ['--log-level', logLevel] : [])];
  const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let found: (address: string) => void = () => undefined;
  const address = new Promise<string>((resolve, reject) => {
    found = resolve;
    child.once('exit', (code, signal) => reject(new Error(`the aggregator of group ${group} exited (${signal ?? code}) before it listened`)));
  });
  address.catch(() => undefined);
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    createInterface({ input: stream, crlfDelay: Infinity }).on('line', (line) => {
      const listening = /^sam-lora aggregator: group \S+ listening at (\S+)$/.exec(line);
      if (listening) return found(listening[1]!);
      const parsed = parseLogLine(line);
      if (parsed) say(`[aggregator ${group}] ${parsed.text.replace(/^sam-lora aggregator: /, '')}`, parsed.level);
    });
  }
  return { child, address };
}
