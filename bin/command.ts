// What the sam-lora binary knows of a subcommand: its name, a line for the command list, and how to
// run it. The table of commands (commands.ts) lists them; each command module exports one.

export interface Command {
  name: string;
  summary: string;
  /** Runs with the arguments after the command's name; resolves to the exit status. */
  run: (args: string[]) => Promise<number>;
}
