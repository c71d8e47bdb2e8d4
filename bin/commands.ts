// The subcommands of the sam-lora binary, in the order its help lists them.

import type { Command } from './command.js';
import { aggregatorCommand } from './aggregator_command.js';
import { coordinatorCommand } from './coordinator_command.js';
import { demoDataCommand } from './demo_data_command.js';
import { doctorCommand } from './doctor_command.js';
import { evalCommand } from './eval_command.js';
import { exportCommand } from './export_command.js';
import { predictCommand } from './predict_command.js';
import { pretrainCommand } from './pretrain_command.js';
import { serveCommand } from './serve_command.js';
import { loraCommand } from './lora_command.js';
import { trainCommand } from './train_command.js';
import { workerCommand } from './worker_command.js';

export const commands: Command[] = [
  trainCommand,
  coordinatorCommand,
  loraCommand,
  demoDataCommand,
  pretrainCommand,
  evalCommand,
  predictCommand,
  exportCommand,
  serveCommand,
  workerCommand,
  aggregatorCommand,
  doctorCommand,
];
