// The subcommand table. Each later capability adds its command here.

import { demoDataCommand } from './demo_data_command.js';
import { loraCommand } from './lora_command.js';

export interface Command {
  name: string;
  summary: string;
  run: (args: string[]) => Promise<number>;
}

export const commands: Command[] = [
  {
    name: 'train',
    summary: 'train LoRA adapters (the training loop lands with the data/training issue)',
    run: async () => {
      process.stdout.write('sam-lora train: not yet available — the graph engine and SAM port come first (see README, "Status").\n');
      return 0;
    },
  },
  loraCommand,
  demoDataCommand,
];
