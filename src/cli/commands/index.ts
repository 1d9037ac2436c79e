import type { Command } from 'commander';
import { registerClient } from './client.ts';
import { registerServerCommand } from './server.ts';
import { registerUserCommand } from './user.ts';
import { registerAuditCommand } from './audit.ts';
import { registerCanCommand } from './can.ts';
import { registerEcuCommand } from './ecu.ts';
import { registerVehicleCommand } from './vehicle.ts';

/** Each module adds one top-level subcommand to the program. */
export type RegisterCommand = (program: Command) => void;

export const commands: RegisterCommand[] = [
  registerClient,
  registerServerCommand,
  registerUserCommand,
  registerAuditCommand,
  registerCanCommand,
  registerEcuCommand,
  registerVehicleCommand,
];
