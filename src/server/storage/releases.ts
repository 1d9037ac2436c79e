import { sql, type Insertable, type Kysely, type Selectable } from 'kysely';
import type { ReleasesTable, Schema } from './schema.ts';

export type ReleaseRecord = Selectable<ReleasesTable>;
export type NewRelease = Insertable<ReleasesTable>;

/** Releases are never updated: a re-upload of the same filename is a new, newer release. */
export class ReleaseStore {
  constructor(private readonly db: Kysely<Schema>) {}

  async add(release: NewRelease): Promise<ReleaseRecord> {
    return this.db.insertInto('releases').values(release).returningAll().executeTakeFirstOrThrow();
  }

  /** The newest release of all (the id grows with every upload). */
  async latest(): Promise<ReleaseRecord | undefined> {
    return this.db.selectFrom('releases').selectAll().orderBy('id', 'desc').limit(1).executeTakeFirst();
  }

  /** The newest release stored under `filename`. */
  async newestNamed(filename: string): Promise<ReleaseRecord | undefined> {
    return this.db.selectFrom('releases').selectAll().where('filename', '=', filename)
      .orderBy('id', 'desc').limit(1).executeTakeFirst();
  }

  async find(id: number): Promise<ReleaseRecord | undefined> {
    return this.db.selectFrom('releases').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /**
   * The newest release of each target ECU, by ECU name. Names compare case-insensitively (an upload for
   * "edt" is one for EDT); releases that name no ECU are for no vehicle ECU and are left out.
   */
  async newestPerEcu(): Promise<ReleaseRecord[]> {
    return this.db.selectFrom('releases').selectAll()
      .where('id', 'in', (eb) => eb.selectFrom('releases').select((s) => s.fn.max('id').as('id'))
        .where('ecu', 'is not', null).groupBy(sql`upper(ecu)`))
      .orderBy(sql`upper(ecu)`).execute();
  }

  async list(options: { limit: number; offset?: number }): Promise<ReleaseRecord[]> {
    return this.db.selectFrom('releases').selectAll().orderBy('id', 'desc')
      .limit(options.limit).offset(options.offset ?? 0).execute();
  }
}
