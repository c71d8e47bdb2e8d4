// Runs sam-lora command lines with --help appended, in one process, and prints each one's exit
// status as JSON (used by cli_flags.test.ts). Each command parses its arguments strictly before it
// honours --help, so an unknown or renamed flag, a missing option value or a stray positional
// argument gives exit status 2 and a known one 0, without doing any work.
//
//   node dist/tests/deploy/cli_probe.js '[["coordinator","--listen","0.0.0.0:50051"], ...]'

import { commands } from '../../bin/commands.js';
import { errorMessage } from '../../shared/errors/error_message.js';

interface Probe {
  argv: string[];
  status: number;
  stderr: string;
}

async function probe(argv: string[]): Promise<Probe> {
  const [name, ...rest] = argv;
  if (name === '--help' || name === '-h') return { argv, status: 0, stderr: '' };
  const command = commands.find((c) => c.name === name);
  if (!command) return { argv, status: 2, stderr: `unknown command "${name}"` };
  let stderr = '';
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  process.stdout.write = (() => true) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  }) as typeof process.stderr.write;
  try {
    return { argv, status: await command.run([...rest, '--help']), stderr };
  } catch (e) {
    return { argv, status: 1, stderr: `${stderr}${errorMessage(e)}` };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
}

const lines = JSON.parse(process.argv[2] ?? '[]') as string[][];
const results: Probe[] = [];
for (const argv of lines) results.push(await probe(argv));
process.stdout.write(`${JSON.stringify(results)}\n`);
