import type { Command } from 'commander';
import { registerServerCommand } from './server.ts';
import { registerUserCommand } from './user.ts';
import { registerAuditCommand } from './audit.ts';

/** Each module adds one top-level subcommand to the program. */
export type RegisterCommand = (program: Command) => void;

export const commands: RegisterCommand[] = [
  registerServerCommand,
  registerUserCommand,
  registerAuditCommand,
];
