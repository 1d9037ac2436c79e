import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Schema } from './schema.ts';

/**
 * Server-side session records: deleting the row ends the session, whatever the browser still holds. Rows
 * are keyed by the SHA-256 of the session id, never the id itself: whoever reads the table (a backup, a
 * read-only role) learns no id that the cookie could carry. The id is 32 random bytes, so an unsalted
 * fast hash cannot be reversed by guessing.
 */
export class SessionRecordStore {
  constructor(private readonly db: Kysely<Schema>) {}

  async get(id: string, now: number): Promise<string | undefined> {
    const row = await this.db.selectFrom('sessions').select('data').where('id', '=', sessionKey(id))
      .where('expires_at', '>', now).executeTakeFirst();
    return row?.data;
  }

  async set(id: string, data: string, expiresAt: number): Promise<void> {
    await this.db.insertInto('sessions').values({ id: sessionKey(id), data, expires_at: expiresAt })
      .onConflict((oc) => oc.column('id').doUpdateSet({ data, expires_at: expiresAt }))
      .execute();
  }

  async destroy(id: string): Promise<void> {
    await this.db.deleteFrom('sessions').where('id', '=', sessionKey(id)).execute();
  }

  async prune(now: number): Promise<number> {
    const result = await this.db.deleteFrom('sessions').where('expires_at', '<=', now).executeTakeFirst();
    return Number(result.numDeletedRows);
  }
}

/** What the `sessions` table stores for a session id: its SHA-256, hex. */
export function sessionKey(id: string): string {
  return createHash('sha256').update(id, 'utf8').digest('hex');
}
