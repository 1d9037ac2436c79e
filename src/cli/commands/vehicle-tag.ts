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
 * `canota vehicle tag VIN… [--set a,b | --add x --remove y] --data-dir D` (server side, like `vehicle register`):
 * sets or edits the tags of one or more vehicles in the server's database (each change audited as
 * `vehicle.tags`, actor `cli`) and prints them; without an option it only prints them. `--set ''` removes every
 * tag. The tags and every VIN (well formed, registered) are checked before any vehicle is changed, so a typo in
 * the tenth VIN does not leave nine vehicles tagged; only a vehicle the change would take past 16 tags stops the
 * command midway (the vehicles before it keep their change, each audited).
 */
export function addVehicleTagCommand(vehicle: Command): void {
  vehicle.command('tag')
    .description('server side: show, set, add or remove vehicles\' tags (groups such as pilot or fleet-berlin) in the server\'s database')
    .argument('<vins...>', 'one or more 17-character VINs')
    .option('--data-dir <dir>', 'the server\'s data directory', './data')
    .option('--database-url <url>', 'sqlite:<path> or postgres://user:pass@host/db (default: sqlite:<data-dir>/canota.db)')
    .option('--set <tags>', 'replace every tag: comma-separated (\'\' removes all)')
    .option('--add <tags>', 'add tags (comma-separated; repeatable)', list)
    .option('--remove <tags>', 'remove tags (comma-separated; repeatable)', list)
    .option('--json', 'print {vin, tags}, one line per vehicle')
    .action(async (vins: string[], options: TagOptions) => {
      if (options.set !== undefined && (options.add !== undefined || options.remove !== undefined)) {
        throw new UsageError('--set replaces every tag: use it alone, or --add and --remove');
      }
      const [{ withServerData }, { changeVehicleTags, UnknownVehicleError }, { splitTagList, TagInputError, checkTags, checkTag }, { VehicleInputError, checkVin }] = await Promise.all([
        import('./server.ts'), import('../../server/vehicles/tag-change.ts'), import('../../server/vehicles/tags.ts'),
        import('../../server/vehicles/vin.ts'),
      ]);
      const split = (values: string[] | undefined) => (values === undefined ? undefined : values.flatMap(splitTagList));
      const change = { set: options.set === undefined ? undefined : splitTagList(options.set), add: split(options.add), remove: split(options.remove) };
      const changing = change.set !== undefined || change.add !== undefined || change.remove !== undefined;
      let results: Array<{ vin: string; tags: string[] }>;
      try {
        // Refuse bad tags and unknown VINs before touching any vehicle.
        if (change.set) checkTags(change.set);
        [...(change.add ?? []), ...(change.remove ?? [])].forEach(checkTag);
        results = await withServerData(options, async ({ storage, audit }) => {
          const found = [];
          for (const vin of [...new Set(vins.map(checkVin))]) {
            const record = await storage.vehicles.find(vin);
            if (!record) throw new UnknownVehicleError(`no vehicle ${vin}: register it first`);
            found.push(record);
          }
          if (!changing) {
            const tags = await storage.vehicleTags.of(found.map((record) => record.id));
            return found.map((record) => ({ vin: record.vin, tags: tags.get(Number(record.id)) ?? [] }));
          }
          const changed = [];
          for (const record of found) changed.push(await changeVehicleTags(storage, audit, { vin: record.vin, ...change, by: 'cli' }));
          return changed;
        });
      } catch (error) {
        if (error instanceof UnknownVehicleError || error instanceof TagInputError || error instanceof VehicleInputError) throw new UsageError(error.message);
        throw error;
      }
      for (const result of results) {
        console.log(options.json ? JSON.stringify({ vin: result.vin, tags: result.tags })
          : result.tags.length === 0 ? `vehicle ${result.vin} has no tags` : `vehicle ${result.vin} tags: ${result.tags.join(', ')}`);
      }
    });
}
