// One wrapper for every subcommand: strict parsing of its options (and --help / -h), its usage on
// --help, and one way of reporting failure (cli_errors.ts). A command only turns parsed values into
// work; it prints no errors of its own.

import { type ParseArgsConfig, parseArgs } from 'node:util';
import { UsageError, reportCommandError } from './cli_errors.js';
import type { Command } from './command.js';
import { errorMessage } from '../shared/errors/error_message.js';

type OptionSet = NonNullable<ParseArgsConfig['options']>;

const HELP_OPTION = { help: { type: 'boolean', short: 'h' } } as const;

type ParseConfig<O extends OptionSet> = { args: string[]; strict: true; allowPositionals: true; options: O & typeof HELP_OPTION };

/** What parseArgs makes of a command's options (with --help). */
export type ParsedArgs<O extends OptionSet> = ReturnType<typeof parseArgs<ParseConfig<O>>>;

export interface CommandSpec<O extends OptionSet> {
  name: string;
  summary: string;
  /** Printed for --help (stdout) and after a usage error (stderr). */
  usage: string;
  options: O;
  /** Whether the command takes positional arguments (default: none; one is a usage error). */
  positionals?: boolean;
  /** Does the work; throws UsageError for a bad argument, anything else for a failure. */
  run: (args: ParsedArgs<O>) => Promise<number>;
}

/** The arguments parsed as `spec` declares them; 'help' when --help was given. Throws UsageError. */
export function parseCommandArgs<O extends OptionSet>(spec: Pick<CommandSpec<O>, 'options' | 'positionals'>, argv: string[]): ParsedArgs<O> | 'help' {
  let parsed: ParsedArgs<O>;
  try {
    parsed = parseArgs<ParseConfig<O>>({ args: argv, strict: true, allowPositionals: true, options: { ...spec.options, ...HELP_OPTION } });
  } catch (err) {
    throw new UsageError(errorMessage(err), { cause: err });
  }
  if ((parsed.values as { help?: boolean }).help) return 'help';
  if (!spec.positionals && parsed.positionals.length) throw new UsageError(`unexpected argument "${parsed.positionals[0]}"`);
  return parsed;
}

/** Runs `body`, reporting what it throws as `sam-lora <name>` errors (exit 2 for usage, 1 otherwise). */
export async function runReported(name: string, usage: string, body: () => Promise<number>): Promise<number> {
  try {
    return await body();
  } catch (err) {
    return reportCommandError(name, usage, err);
  }
}

export function defineCommand<O extends OptionSet>(spec: CommandSpec<O>): Command {
  return {
    name: spec.name,
    summary: spec.summary,
    run: (argv) =>
      runReported(spec.name, spec.usage, async () => {
        const parsed = parseCommandArgs(spec, argv);
        if (parsed === 'help') {
          process.stdout.write(spec.usage);
          return 0;
        }
        return spec.run(parsed);
      }),
  };
}
