import type { EventEmitter } from 'node:events';
import type { Command } from 'commander';

/**
 * Lets every option of `command` (and its subcommands) also be set by an environment variable
 * `CANOTA_<OPTION>` (docs/architecture.md, "Command line"): `--data-dir` reads `CANOTA_DATA_DIR`. The command line wins over the
 * environment, which wins over the default. Call it after all options are declared.
 */
export function readOptionsFromEnvironment(command: Command): Command {
  for (const option of command.options) {
    if (option.envVar || option.long === '--help' || option.long === '--version' || !option.long) continue;
    option.env(`CANOTA_${option.long.replace(/^--(no-)?/, '').replace(/-/g, '_').toUpperCase()}`);
    // Commander wires up env handling when an option is added; an env name set afterwards needs the
    // same listener, or the variable would be silently ignored. Its value goes through the option's parser.
    command.on(`optionEnv:${option.name()}`, (value?: string) => (command as unknown as EventEmitter).emit(`option:${option.name()}`, value));
  }
  for (const sub of command.commands) readOptionsFromEnvironment(sub);
  return command;
}
