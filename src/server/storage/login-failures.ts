import type { Kysely, Selectable, Transaction } from 'kysely';
import type { LoginFailuresTable, Schema } from './schema.ts';

export type LoginFailureRecord = Selectable<LoginFailuresTable>;

export interface FailurePolicy {
  now: number;
  /** Failures before this time are forgotten. */
  windowStart: number;
  maxFailures: number;
  /** When a lock taken now ends. */
  lockUntil: number;
}

export class LoginFailureStore {
  constructor(private readonly db: Kysely<Schema>) {}

  async get(key: string): Promise<LoginFailureRecord | undefined> {
    return this.db.selectFrom('login_failures').selectAll().where('key', '=', key).executeTakeFirst();
  }

  /**
   * Counts one failure for each of `keys` and locks every key that reached `maxFailures`; returns the keys
   * this failure locked. All keys are counted in one transaction, taken in sorted order: concurrent
   * failures (on one server or several sharing PostgreSQL) then queue behind each other's row locks in the
   * same order, so the same failure is the n-th for every key, and no two transactions deadlock.
   */
  async recordFailure(keys: readonly string[], policy: FailurePolicy): Promise<string[]> {
    return this.db.transaction().execute(async (trx) => {
      const locked: string[] = [];
      for (const key of [...keys].sort()) {
        const failures = await countFailure(trx, key, policy);
        if (failures < policy.maxFailures) continue;
        // The count starts again once locked.
        await trx.updateTable('login_failures')
          .set({ failures: 0, window_started_at: policy.now, locked_until: policy.lockUntil })
          .where('key', '=', key).execute();
        locked.push(key);
      }
      return locked;
    });
  }

  async clear(key: string): Promise<void> {
    await this.db.deleteFrom('login_failures').where('key', '=', key).execute();
  }
}

/**
 * One failure for `key` in one statement (an upsert): a read-then-write would let parallel guesses
 * overwrite each other's count. Returns the count including this failure.
 */
async function countFailure(trx: Transaction<Schema>, key: string, { now, windowStart }: FailurePolicy): Promise<number> {
  const row = await trx.insertInto('login_failures')
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
