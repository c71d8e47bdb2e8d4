// `sam-lora lora`: inspect and convert LoRA weight files (native <-> reference format).

import { parseArgs } from 'node:util';
import { LORA_FORMATS, type LoraFormat, loadLora, loraInfo, saveLora } from '../shared/sam/lora_io.js';
import { UsageError } from './cli_errors.js';
import type { Command } from './command.js';
import { runReported } from './define_command.js';

const USAGE = `usage: sam-lora lora info FILE
       sam-lora lora convert IN OUT --format reference|native

  info     print the format, rank, alpha, blocks, targets, tensor count and width of a LoRA file (JSON)
  convert  rewrite a LoRA file in the other format; the reference format holds only q/v adapters on
           blocks 0..n-1 with alpha = rank
`;

function usage(problem: string): never {
  throw new UsageError(problem);
}

async function info(args: string[]): Promise<number> {
  const { positionals } = parseArgs({ args, allowPositionals: true, strict: true, options: {} });
  if (positionals.length !== 1) usage(`info takes one FILE (got ${positionals.length} arguments)`);
  const result = await loraInfo(positionals[0]!);
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  return 0;
}

async function convert(args: string[]): Promise<number> {
  const { positionals, values } = parseArgs({ args, allowPositionals: true, strict: true, options: { format: { type: 'string' } } });
  if (positionals.length !== 2) usage(`convert takes IN and OUT (got ${positionals.length} arguments)`);
  const format = values.format;
  if (format === undefined) usage('convert needs --format reference|native');
  if (!(LORA_FORMATS as readonly string[]).includes(format)) usage(`unknown --format "${format}" (expected reference or native)`);
  const [input, output] = positionals as [string, string];
  const lora = await loadLora(input);
  await saveLora(output, lora.tensors, lora.spec, format as LoraFormat);
  const { spec } = lora;
  process.stdout.write(
    `${input} (${lora.format}) -> ${output} (${format}): rank ${spec.rank}, alpha ${spec.alpha}, blocks ${spec.blocks.join(',')}, targets ${spec.targets.join(',')}, ${lora.tensors.size} tensors\n`,
  );
  return 0;
}

async function runLora(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === '--help' || sub === '-h' || sub === 'help' || rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (sub === 'info') return info(rest);
  if (sub === 'convert') return convert(rest);
  usage(sub === undefined ? 'missing subcommand' : `unknown subcommand "${sub}"`);
}

/** Subcommands, so it parses its own arguments; reporting is every command's. */
export const loraCommand: Command = {
  name: 'lora',
  summary: 'inspect (info) and convert (convert --format reference|native) LoRA weight files',
  run: (argv) => runReported('lora', USAGE, () => runLora(argv)),
};
