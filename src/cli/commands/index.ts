import type { Command } from 'commander';

/** Each module adds one top-level subcommand to the program. */
export type RegisterCommand = (program: Command) => void;

/**
 * The top-level commands, each loaded only when it runs: `canota client` does not pay for Fastify, the CAN
 * stack or the database driver (the client's peak memory is a benchmark target). `--help` loads them all.
 */
export const commandModules: Readonly<Record<string, () => Promise<RegisterCommand>>> = {
  client: async () => (await import('./client.ts')).registerClient,
  server: async () => (await import('./server.ts')).registerServerCommand,
  user: async () => (await import('./user.ts')).registerUserCommand,
  audit: async () => (await import('./audit.ts')).registerAuditCommand,
  can: async () => (await import('./can.ts')).registerCanCommand,
  ecu: async () => (await import('./ecu.ts')).registerEcuCommand,
  vehicle: async () => (await import('./vehicle.ts')).registerVehicleCommand,
  demo: async () => (await import('./demo.ts')).registerDemoCommand,
  keys: async () => (await import('./keys.ts')).registerKeysCommand,
  token: async () => (await import('./token.ts')).registerTokenCommand,
};

/** The commands a command line needs: the one it names, or all of them (help, unknown command). */
export async function commandsFor(argv: readonly string[]): Promise<RegisterCommand[]> {
  const name = argv.slice(2).find((argument) => !argument.startsWith('-'));
  const load = name !== undefined && Object.hasOwn(commandModules, name) ? [commandModules[name]!] : Object.values(commandModules);
  return Promise.all(load.map((loader) => loader()));
}
