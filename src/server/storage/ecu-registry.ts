import type { Kysely, Selectable } from 'kysely';
import type { EcuRegistryTable, Schema } from './schema.ts';

export type EcuRecord = Selectable<EcuRegistryTable>;

export interface EcuEntry {
  name: string;
  hardwareIds: string[];
  maxImageBytes: number | null;
  source: string;
  updatedBy: string;
  updatedAt: number;
}

const entryOf = (row: EcuRecord): EcuEntry => ({
  name: row.name, hardwareIds: JSON.parse(row.hardware_ids) as string[], maxImageBytes: row.max_image_bytes === null ? null : Number(row.max_image_bytes),
  source: row.source, updatedBy: row.updated_by, updatedAt: Number(row.updated_at),
});

/** The ECU registry's rows (validated by the caller: `releases/ecu-registry.ts`). */
export class EcuRegistryStore {
  constructor(private readonly db: Kysely<Schema>) {}

  async list(): Promise<EcuEntry[]> {
    return (await this.db.selectFrom('ecu_registry').selectAll().orderBy('name').execute()).map(entryOf);
  }

  async find(name: string): Promise<EcuEntry | undefined> {
    const row = await this.db.selectFrom('ecu_registry').selectAll().where('name', '=', name).executeTakeFirst();
    return row ? entryOf(row) : undefined;
  }

  /** Adds or replaces an entry (an admin's). */
  async put(entry: { name: string; hardwareIds: readonly string[]; maxImageBytes: number | null; by: string; now: number }): Promise<EcuEntry> {
    const values = {
      hardware_ids: JSON.stringify(entry.hardwareIds), max_image_bytes: entry.maxImageBytes, source: 'admin', updated_by: entry.by, updated_at: entry.now,
    };
    const row = await this.db.insertInto('ecu_registry').values({ name: entry.name, ...values })
      .onConflict((oc) => oc.column('name').doUpdateSet(values)).returningAll().executeTakeFirstOrThrow();
    return entryOf(row);
  }

  async remove(name: string): Promise<boolean> {
    const result = await this.db.deleteFrom('ecu_registry').where('name', '=', name).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  /**
   * What vehicles reported: ECUs not known yet join (source `inventory`), hardware ids not known yet join
   * their ECU's list. Returns the names added. One transaction, so two reports at once cannot lose an id.
   */
  async learn(seen: readonly { name: string; hardwareId: string | null }[], vin: string, now: number): Promise<string[]> {
    if (seen.length === 0) return [];
    return this.db.transaction().execute(async (trx) => {
      const added: string[] = [];
      for (const { name, hardwareId } of seen) {
        const row = await trx.selectFrom('ecu_registry').selectAll().where('name', '=', name).executeTakeFirst();
        if (!row) {
          await trx.insertInto('ecu_registry').values({
            name, hardware_ids: JSON.stringify(hardwareId ? [hardwareId] : []), max_image_bytes: null, source: 'inventory', updated_by: vin, updated_at: now,
          }).onConflict((oc) => oc.column('name').doNothing()).execute();
          added.push(name);
          continue;
        }
        const ids = JSON.parse(row.hardware_ids) as string[];
        if (hardwareId && ids.length > 0 && !ids.includes(hardwareId)) {
          await trx.updateTable('ecu_registry').set({ hardware_ids: JSON.stringify([...ids, hardwareId].sort()), updated_by: vin, updated_at: now })
            .where('name', '=', name).execute();
        }
      }
      return added;
    });
  }
}
