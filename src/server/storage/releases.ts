import type { Insertable, Kysely, Selectable } from 'kysely';
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

  async list(options: { limit: number; offset?: number }): Promise<ReleaseRecord[]> {
    return this.db.selectFrom('releases').selectAll().orderBy('id', 'desc')
      .limit(options.limit).offset(options.offset ?? 0).execute();
  }
}
