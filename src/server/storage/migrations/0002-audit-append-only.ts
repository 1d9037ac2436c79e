import { sql, type Kysely } from 'kysely';
import type { Dialect } from './column-types.ts';

/**
 * The database itself refuses to change or delete audit entries. Someone with full access to the
 * database can still drop these triggers; the hash chain (`canota audit verify`) is what catches that.
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  if (dialect === 'sqlite') {
    for (const operation of ['update', 'delete']) {
      await sql.raw(`create trigger audit_log_no_${operation} before ${operation} on audit_log
        begin select raise(abort, 'audit_log is append-only'); end`).execute(db);
    }
    return;
  }
  await sql.raw(`create function canota_audit_append_only() returns trigger language plpgsql as $$
    begin raise exception 'audit_log is append-only'; end $$`).execute(db);
  await sql.raw(`create trigger audit_log_append_only before update or delete on audit_log
    for each row execute function canota_audit_append_only()`).execute(db);
}
