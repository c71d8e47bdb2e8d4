#!/usr/bin/env node
// The sam-lora command line: one binary, one subcommand per job.

import { commands } from './commands.js';
import { errorMessage } from '../shared/errors/error_message.js';

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    printHelp();
    return name ? 0 : 1;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    process.stderr.write(`sam-lora: unknown command "${name}"\n\n`);
    printHelp();
    return 2;
  }
  return command.run(rest);
}

function printHelp(): void {
  const width = Math.max(...commands.map((c) => c.name.length));
  const lines = commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  process.stdout.write(`usage: sam-lora <command> [options]\n\ncommands:\n${lines.join('\n')}\n\nRun sam-lora <command> --help for the options of one command.\n`);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`sam-lora: ${errorMessage(err)}\n`);
    process.exitCode = 1;
  },
);
