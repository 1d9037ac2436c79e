import { sql, type Kysely, type Selectable } from 'kysely';
import type { AuditLogTable, Schema } from './schema.ts';
import type { Dialect } from './migrations/column-types.ts';
import { isBusy } from './unique-violation.ts';

export type AuditRecord = Selectable<AuditLogTable>;
export type AuditRow = Omit<AuditRecord, 'id'>;

export interface AuditFilter {
  event?: string;
  outcome?: string;
  actor?: string;
  ip?: string;
  /** Only entries with an id below this (paging backwards from the newest). */
  beforeId?: number;
  limit: number;
}

/** Any value works as long as every canota server uses the same one. */
const auditLockKey = 0x63616e6f;

/**
 * The append-only table behind the audit log. Appends are serialised (across processes too) so that each
 * entry's `prev_hash` really is the hash of the entry before it.
 */
export class AuditEntryStore {
  constructor(private readonly db: Kysely<Schema>, private readonly dialect: Dialect) {}

  /** `seal` turns the previous entry's hash (or null for the first entry) into the row to append. */
  async append(seal: (prevHash: string | null) => AuditRow): Promise<AuditRecord> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.db.transaction().execute(async (trx) => {
          if (this.dialect === 'postgres') await sql`select pg_advisory_xact_lock(${auditLockKey})`.execute(trx);
          const last = await trx.selectFrom('audit_log').select('hash').orderBy('id', 'desc').limit(1).executeTakeFirst();
          return trx.insertInto('audit_log').values(seal(last?.hash ?? null)).returningAll().executeTakeFirstOrThrow();
        });
      } catch (error) {
        // Another process appended between our read and our write (SQLite WAL snapshot): read again.
        if (isBusy(error) && attempt < 20) continue;
        throw error;
      }
    }
  }

  async list(filter: AuditFilter): Promise<AuditRecord[]> {
    let query = this.db.selectFrom('audit_log').selectAll().orderBy('id', 'desc').limit(filter.limit);
    if (filter.event) query = query.where('event', '=', filter.event);
    if (filter.outcome) query = query.where('outcome', '=', filter.outcome);
    if (filter.actor) query = query.where('actor', '=', filter.actor);
    if (filter.ip) query = query.where('ip', '=', filter.ip);
    if (filter.beforeId !== undefined) query = query.where('id', '<', filter.beforeId);
    return query.execute();
  }

  /** Every entry, oldest first, read in pages so a long log costs little memory. */
  async *all(pageSize = 1000): AsyncGenerator<AuditRecord> {
    let after = 0;
    for (;;) {
      const page = await this.db.selectFrom('audit_log').selectAll().where('id', '>', after)
        .orderBy('id', 'asc').limit(pageSize).execute();
      yield* page;
      if (page.length < pageSize) return;
      after = page[page.length - 1]!.id;
    }
  }
}
