import type { Command } from 'commander';
import { UsageError } from '../exit-codes.ts';

interface TagOptions {
  dataDir: string;
  databaseUrl?: string;
  set?: string;
  add?: string[];
  remove?: string[];
  json?: boolean;
}

const list = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

/**
 * `canota vehicle tag VIN [--set a,b | --add x --remove y] --data-dir D` (server side, like `vehicle register`):
 * sets or edits a vehicle's tags in the server's database (audited as `vehicle.tags`, actor `cli`) and prints
 * them; without an option it only prints them. `--set ''` removes every tag.
 */
export function addVehicleTagCommand(vehicle: Command): void {
  vehicle.command('tag')
    .description('server side: show, set, add or remove a vehicle\'s tags (groups such as pilot or fleet-berlin) in the server\'s database')
    .argument('<vin>', '17-character VIN')
    .option('--data-dir <dir>', 'the server\'s data directory', './data')
    .option('--database-url <url>', 'sqlite:<path> or postgres://user:pass@host/db (default: sqlite:<data-dir>/canota.db)')
    .option('--set <tags>', 'replace every tag: comma-separated (\'\' removes all)')
    .option('--add <tags>', 'add tags (comma-separated; repeatable)', list)
    .option('--remove <tags>', 'remove tags (comma-separated; repeatable)', list)
    .option('--json', 'print {vin, tags}')
    .action(async (vin: string, options: TagOptions) => {
      if (options.set !== undefined && (options.add !== undefined || options.remove !== undefined)) {
        throw new UsageError('--set replaces every tag: use it alone, or --add and --remove');
      }
      const [{ withServerData }, { changeVehicleTags, UnknownVehicleError }, { splitTagList, TagInputError }, { VehicleInputError, checkVin }] = await Promise.all([
        import('./server.ts'), import('../../server/vehicles/tag-change.ts'), import('../../server/vehicles/tags.ts'),
        import('../../server/vehicles/vin.ts'),
      ]);
      const split = (values: string[] | undefined) => (values === undefined ? undefined : values.flatMap(splitTagList));
      const change = options.set !== undefined || options.add !== undefined || options.remove !== undefined;
      let result: { vin: string; tags: string[] };
      try {
        result = await withServerData(options, async ({ storage, audit }) => {
          if (change) {
            return changeVehicleTags(storage, audit, {
              vin, set: options.set === undefined ? undefined : splitTagList(options.set), add: split(options.add), remove: split(options.remove), by: 'cli',
            });
          }
          const found = await storage.vehicles.find(checkVin(vin));
          if (!found) throw new UnknownVehicleError(`no vehicle ${checkVin(vin)}: register it first`);
          return { vin: found.vin, tags: (await storage.vehicleTags.of([found.id])).get(Number(found.id)) ?? [] };
        });
      } catch (error) {
        if (error instanceof UnknownVehicleError || error instanceof TagInputError || error instanceof VehicleInputError) throw new UsageError(error.message);
        throw error;
      }
      if (options.json) {
        console.log(JSON.stringify({ vin: result.vin, tags: result.tags }));
        return;
      }
      console.log(result.tags.length === 0 ? `vehicle ${result.vin} has no tags` : `vehicle ${result.vin} tags: ${result.tags.join(', ')}`);
    });
}
