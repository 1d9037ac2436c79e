import type { Command } from 'commander';

/** Each module adds one top-level subcommand to the program. */
export type RegisterCommand = (program: Command) => void;

export const commands: RegisterCommand[] = [];
