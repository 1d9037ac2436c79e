import { Command, CommanderError } from 'commander';
import { commandsFor, type RegisterCommand } from './commands/index.ts';
import { UsageError, exitCodes } from './exit-codes.ts';
import { errorMessage } from '../errors/error-message.ts';

/** Builds the `canota` program from `commands`, each in its own module under `commands/`. */
export function buildProgram(commands: readonly RegisterCommand[]): Command {
  const program = new Command('canota')
    .description('Over-the-air firmware updates for a vehicle\'s ECUs, from a web server down the CAN bus')
    .version(process.env.npm_package_version ?? '0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    // A command's options come before its subcommand's name: `canota vehicle --state-dir S` (the car) and
    // `canota vehicle status --state-dir S` each read their own --state-dir.
    .enablePositionalOptions()
    .configureHelp({ sortSubcommands: true });
  for (const register of commands) register(program);
  exitOverrideEverywhere(program);
  return program;
}

function exitOverrideEverywhere(command: Command): void {
  command.exitOverride();
  for (const sub of command.commands) exitOverrideEverywhere(sub);
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram(await commandsFor(argv));
  try {
    await program.parseAsync(argv);
  } catch (error) {
    process.exitCode = exitCodeFor(error);
  }
}

function exitCodeFor(error: unknown): number {
  if (error instanceof CommanderError) {
    // --help and --version end through here too, with exit code 0.
    return error.exitCode === 0 ? 0 : exitCodes.usage;
  }
  if (error instanceof UsageError) {
    console.error(`canota: ${error.message}`);
    return exitCodes.usage;
  }
  console.error(`canota: ${errorMessage(error)}`);
  if (process.env.CANOTA_DEBUG && error instanceof Error) console.error(error.stack);
  return exitCodes.failure;
}
