import type { Kysely } from 'kysely';
import type { Schema } from './schema.ts';

/** Server-side session records: deleting the row ends the session, whatever the browser still holds. */
export class SessionRecordStore {
  constructor(private readonly db: Kysely<Schema>) {}

  async get(id: string, now: number): Promise<string | undefined> {
    const row = await this.db.selectFrom('sessions').select('data').where('id', '=', id)
      .where('expires_at', '>', now).executeTakeFirst();
    return row?.data;
  }

  async set(id: string, data: string, expiresAt: number): Promise<void> {
    await this.db.insertInto('sessions').values({ id, data, expires_at: expiresAt })
      .onConflict((oc) => oc.column('id').doUpdateSet({ data, expires_at: expiresAt }))
      .execute();
  }

  async destroy(id: string): Promise<void> {
    await this.db.deleteFrom('sessions').where('id', '=', id).execute();
  }

  async prune(now: number): Promise<number> {
    const result = await this.db.deleteFrom('sessions').where('expires_at', '<=', now).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}
