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

/** A login attempt reserved (counted as a failure until it succeeds), or refused because a key is locked. */
export type AttemptReservation =
  | { refused: false; /** The keys this attempt locked (it was the last one allowed). */ locked: string[] }
  | { refused: true; /** When the later lock of the refused keys ends. */ lockedUntil: number };

/** Thrown inside the transaction to roll back what it counted before it met a locked key. */
class KeyLocked extends Error {
  constructor(readonly until: number) {
    super('locked');
  }
}

export class LoginFailureStore {
  constructor(private readonly db: Kysely<Schema>) {}

  async get(key: string): Promise<LoginFailureRecord | undefined> {
    return this.db.selectFrom('login_failures').selectAll().where('key', '=', key).executeTakeFirst();
  }

  /**
   * Reserves one login attempt for every key before its password is checked: the attempt counts as a
   * failure at once, so however many guesses arrive in parallel, at most `maxFailures` per key and window
   * ever reach the password check; the one that reaches `maxFailures` locks the key (and is still checked).
   * A success clears the keys afterwards. When any key is already locked nothing is counted (the
   * transaction rolls back) and the attempt is refused.
   *
   * All keys are handled in one transaction, taken in sorted order: concurrent attempts (on one server or
   * several sharing PostgreSQL) queue behind each other's row locks in the same order, so the same attempt
   * is the n-th for every key, and no two transactions deadlock.
   */
  async reserveAttempt(keys: readonly string[], policy: FailurePolicy): Promise<AttemptReservation> {
    try {
      return await this.db.transaction().execute(async (trx) => {
        const locked: string[] = [];
        let lockedUntil: number | undefined;
        for (const key of [...keys].sort()) {
          if (lockedUntil !== undefined) {
            // Refused already: only look whether this key's lock ends later (for Retry-After).
            const until = (await trx.selectFrom('login_failures').select('locked_until').where('key', '=', key).executeTakeFirst())?.locked_until;
            if (until != null && Number(until) > policy.now) lockedUntil = Math.max(lockedUntil, Number(until));
            continue;
          }
          const row = await countAttempt(trx, key, policy);
          if (row.lockedUntil !== undefined && row.lockedUntil > policy.now) {
            lockedUntil = row.lockedUntil;
            continue;
          }
          if (row.failures < policy.maxFailures) continue;
          // The count starts again once locked.
          await trx.updateTable('login_failures')
            .set({ failures: 0, window_started_at: policy.now, locked_until: policy.lockUntil })
            .where('key', '=', key).execute();
          locked.push(key);
        }
        if (lockedUntil !== undefined) throw new KeyLocked(lockedUntil);
        return { refused: false as const, locked };
      });
    } catch (error) {
      if (error instanceof KeyLocked) return { refused: true, lockedUntil: error.until };
      throw error;
    }
  }

  async clear(key: string): Promise<void> {
    await this.db.deleteFrom('login_failures').where('key', '=', key).execute();
  }
}

/**
 * One attempt for `key` in one statement (an upsert, which also takes the row's lock on PostgreSQL): a
 * read-then-write would let parallel guesses overwrite each other's count. A key that is locked keeps its
 * count. Returns the count including this attempt, and the key's lock.
 */
async function countAttempt(trx: Transaction<Schema>, key: string, { now, windowStart }: FailurePolicy): Promise<{ failures: number; lockedUntil: number | undefined }> {
  const row = await trx.insertInto('login_failures')
    .values({ key, failures: 1, window_started_at: now, locked_until: null })
    .onConflict((oc) => oc.column('key').doUpdateSet((eb) => {
      const locked = eb('login_failures.locked_until', '>', now);
      const stale = eb('login_failures.window_started_at', '<', windowStart);
      return {
        failures: eb.case().when(locked).then(eb.ref('login_failures.failures'))
          .when(stale).then(1).else(eb('login_failures.failures', '+', 1)).end(),
        window_started_at: eb.case().when(locked).then(eb.ref('login_failures.window_started_at'))
          .when(stale).then(now).else(eb.ref('login_failures.window_started_at')).end(),
      };
    }))
    .returning(['failures', 'locked_until'])
    .executeTakeFirstOrThrow();
  return { failures: Number(row.failures), lockedUntil: row.locked_until == null ? undefined : Number(row.locked_until) };
}
