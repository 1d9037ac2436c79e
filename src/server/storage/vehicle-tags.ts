import type { Kysely } from 'kysely';
import type { Schema } from './schema.ts';

/** What a tag change did: the tags before and after it. */
export interface TagChange {
  before: string[];
  after: string[];
}

/** A tag change would leave the vehicle with more tags than it may carry (the caller's limit). */
export class TooManyTagsError extends Error {
  override name = 'TooManyTagsError';
  constructor(readonly count: number, readonly limit: number) {
    super(`${count} tags: a vehicle has at most ${limit}`);
  }
}

/**
 * The ids of the vehicles that carry every one of `tags` (none given: no vehicle), ascending. Exported on its
 * own so other stores (deployment targets) can call it on their own Kysely handle or transaction.
 */
export async function vehicleIdsWithAllTags(db: Kysely<Schema>, tags: readonly string[]): Promise<number[]> {
  const wanted = [...new Set(tags)];
  if (wanted.length === 0) return [];
  const rows = await db.selectFrom('vehicle_tags').select('vehicle_id').where('tag', 'in', wanted)
    .groupBy('vehicle_id').having((eb) => eb.fn.count('tag'), '=', wanted.length).orderBy('vehicle_id').execute();
  return rows.map((row) => Number(row.vehicle_id));
}

/** Vehicle tags (validated by the caller: `src/server/vehicles/tags.ts`). */
export class VehicleTagStore {
  constructor(private readonly db: Kysely<Schema>) {}

  /** The tags of these vehicles, sorted: a map from vehicle id (vehicles without tags are absent). */
  async of(vehicleIds: readonly number[]): Promise<Map<number, string[]>> {
    const tags = new Map<number, string[]>();
    if (vehicleIds.length === 0) return tags;
    const rows = await this.db.selectFrom('vehicle_tags').select(['vehicle_id', 'tag']).where('vehicle_id', 'in', vehicleIds)
      .execute();
    for (const { vehicle_id: id, tag } of rows) {
      const list = tags.get(Number(id));
      if (list) list.push(tag);
      else tags.set(Number(id), [tag]);
    }
    // The database's collation may order otherwise (PostgreSQL with a locale); shown everywhere in code-unit order.
    for (const list of tags.values()) list.sort();
    return tags;
  }

  /** The ids of the vehicles carrying every one of `tags` (deployments target vehicles by tag). */
  async vehicleIds(tags: readonly string[]): Promise<number[]> {
    return vehicleIdsWithAllTags(this.db, tags);
  }

  /** Every tag in use with how many vehicles carry it, by tag (the filter form's suggestions). */
  async counts(): Promise<Array<{ tag: string; vehicles: number }>> {
    const rows = await this.db.selectFrom('vehicle_tags').select(['tag', (eb) => eb.fn.countAll<number | string>().as('n')])
      .groupBy('tag').orderBy('tag').execute();
    return rows.map((row) => ({ tag: row.tag, vehicles: Number(row.n) }));
  }

  /**
   * Changes one vehicle's tags in one transaction: `set` replaces them all, else `add` and `remove` edit them.
   * The vehicle's row is written first, which on PostgreSQL locks it, so two concurrent changes of one vehicle
   * follow each other (and its limit holds) instead of interleaving; SQLite runs one writer at a time anyway.
   */
  async change(vehicleId: number, change: { set?: readonly string[]; add?: readonly string[]; remove?: readonly string[] }, limit: number): Promise<TagChange> {
    return this.db.transaction().execute(async (trx) => {
      await trx.updateTable('vehicles').set((eb) => ({ id: eb.ref('id') })).where('id', '=', vehicleId).execute();
      const before = (await trx.selectFrom('vehicle_tags').select('tag').where('vehicle_id', '=', vehicleId).execute())
        .map((row) => row.tag).sort();
      const next = new Set(change.set ?? before);
      for (const tag of change.add ?? []) next.add(tag);
      for (const tag of change.remove ?? []) next.delete(tag);
      const after = [...next].sort();
      if (after.length > limit) throw new TooManyTagsError(after.length, limit);
      const removed = before.filter((tag) => !next.has(tag));
      const added = after.filter((tag) => !before.includes(tag));
      if (removed.length > 0) await trx.deleteFrom('vehicle_tags').where('vehicle_id', '=', vehicleId).where('tag', 'in', removed).execute();
      if (added.length > 0) await trx.insertInto('vehicle_tags').values(added.map((tag) => ({ vehicle_id: vehicleId, tag }))).execute();
      return { before, after };
    });
  }
}
