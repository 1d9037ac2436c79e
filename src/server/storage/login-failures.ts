import type { Kysely, Selectable } from 'kysely';
import type { LoginFailuresTable, Schema } from './schema.ts';

export type LoginFailureRecord = Selectable<LoginFailuresTable>;

export class LoginFailureStore {
  constructor(private readonly db: Kysely<Schema>) {}

  async get(key: string): Promise<LoginFailureRecord | undefined> {
    return this.db.selectFrom('login_failures').selectAll().where('key', '=', key).executeTakeFirst();
  }

  /**
   * Counts one failure for `key` in one statement (an upsert), so concurrent failures are all counted:
   * a read-then-write would let parallel guesses overwrite each other's count. Failures before
   * `windowStart` are forgotten. Returns the count including this failure.
   */
  async countFailure(key: string, now: number, windowStart: number): Promise<number> {
    const row = await this.db.insertInto('login_failures')
      .values({ key, failures: 1, window_started_at: now, locked_until: null })
      .onConflict((oc) => oc.column('key').doUpdateSet((eb) => {
        const stale = eb('login_failures.window_started_at', '<', windowStart);
        return {
          failures: eb.case().when(stale).then(1).else(eb('login_failures.failures', '+', 1)).end(),
          window_started_at: eb.case().when(stale).then(now).else(eb.ref('login_failures.window_started_at')).end(),
        };
      }))
      .returning('failures')
      .executeTakeFirstOrThrow();
    return Number(row.failures);
  }

  /** Locks `key` until `until`; its count starts again. */
  async lock(key: string, until: number, now: number): Promise<void> {
    await this.db.updateTable('login_failures').set({ failures: 0, window_started_at: now, locked_until: until })
      .where('key', '=', key).execute();
  }

  async clear(key: string): Promise<void> {
    await this.db.deleteFrom('login_failures').where('key', '=', key).execute();
  }
}
