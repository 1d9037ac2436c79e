import type { Command } from 'commander';
import { UsageError } from '../exit-codes.ts';

interface RegisterOptions {
  dataDir: string;
  databaseUrl?: string;
  rotate?: boolean;
  json?: boolean;
}

/**
 * `canota vehicle register VIN --data-dir D` (server side, docs/architecture.md "Vehicle commands"): creates the
 * vehicle in the server's database and prints its token once, alone on the last line of stdout (`--json`:
 * `{vin, token}`). `--rotate` gives an existing vehicle a new token; the old one stops working at once.
 */
export function addVehicleRegisterCommand(vehicle: Command): void {
  vehicle.command('register')
    .description('server side: register a vehicle in the server\'s database and print its token once (the TMU\'s --token)')
    .argument('<vin>', '17-character VIN')
    .option('--data-dir <dir>', 'the server\'s data directory', './data')
    .option('--database-url <url>', 'sqlite:<path> or postgres://user:pass@host/db (default: sqlite:<data-dir>/canota.db)')
    .option('--rotate', 'the vehicle exists: give it a new token (the old one stops working)')
    .option('--json', 'print {vin, token}')
    .action(async (vin: string, options: RegisterOptions) => {
      // The server's storage is loaded only here: `canota vehicle --server …` (the car) does not pay for it.
      const [{ withServerData }, { registerVehicle }, { VehicleInputError }, { AlreadyExistsError }] = await Promise.all([
        import('./server.ts'), import('../../server/vehicles/registration.ts'), import('../../server/vehicles/vin.ts'),
        import('../../server/storage/errors.ts'),
      ]);
      let registered;
      try {
        registered = await withServerData(options, ({ storage, audit }) =>
          registerVehicle(storage, audit, { vin, rotate: Boolean(options.rotate), by: 'cli' }));
      } catch (error) {
        if (error instanceof AlreadyExistsError) throw new UsageError(`${error.message} (--rotate gives it a new token)`);
        if (error instanceof VehicleInputError) throw new UsageError(error.message);
        throw error;
      }
      const { vehicle: { vin: registeredVin }, token, rotated } = registered;
      if (options.json) {
        console.log(JSON.stringify({ vin: registeredVin, token }));
        return;
      }
      console.log(rotated ? `new token for vehicle ${registeredVin}; the old one no longer works` : `registered vehicle ${registeredVin}`);
      console.log('token (shown only this once; the vehicle sends it as Authorization: Bearer …):');
      console.log(token);
    });
}
