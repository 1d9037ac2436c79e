import type { Kysely } from 'kysely';
import { type Dialect, bigint, addIdColumn } from './column-types.ts';

/** Users, releases, nonces, the audit log, sessions and login throttling. */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  await addIdColumn(db.schema.createTable('users'), dialect)
    .addColumn('username', 'text', (c) => c.notNull().unique())
    .addColumn('password_hash', 'text', (c) => c.notNull())
    .addColumn('role', 'text', (c) => c.notNull())
    .addColumn('created_at', bigint(dialect), (c) => c.notNull())
    .addColumn('updated_at', bigint(dialect), (c) => c.notNull())
    .execute();

  await addIdColumn(db.schema.createTable('releases'), dialect)
    .addColumn('filename', 'text', (c) => c.notNull())
    .addColumn('sha256', 'text', (c) => c.notNull())
    .addColumn('size', bigint(dialect), (c) => c.notNull())
    .addColumn('ecu', 'text')
    .addColumn('firmware_version', 'text')
    .addColumn('notes', 'text')
    .addColumn('uploaded_by', 'text', (c) => c.notNull())
    .addColumn('uploaded_at', bigint(dialect), (c) => c.notNull())
    .execute();
  await db.schema.createIndex('releases_by_filename').on('releases').columns(['filename', 'id']).execute();

  await db.schema.createTable('nonces')
    .addColumn('nonce_hash', 'text', (c) => c.primaryKey())
    .addColumn('issued_at', bigint(dialect), (c) => c.notNull())
    .addColumn('expires_at', bigint(dialect), (c) => c.notNull())
    .addColumn('issued_to_ip', 'text', (c) => c.notNull())
    .addColumn('issued_to', 'text')
    .addColumn('used_at', bigint(dialect))
    .addColumn('used_by_ip', 'text')
    .addColumn('used_for', 'text')
    .execute();
  await db.schema.createIndex('nonces_by_expiry').on('nonces').column('expires_at').execute();

  await addIdColumn(db.schema.createTable('audit_log'), dialect)
    .addColumn('at', bigint(dialect), (c) => c.notNull())
    .addColumn('event', 'text', (c) => c.notNull())
    .addColumn('outcome', 'text', (c) => c.notNull())
    .addColumn('actor', 'text')
    .addColumn('ip', 'text')
    .addColumn('subject', 'text')
    .addColumn('details', 'text', (c) => c.notNull())
    .addColumn('prev_hash', 'text', (c) => c.notNull())
    .addColumn('hash', 'text', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('audit_by_event').on('audit_log').columns(['event', 'id']).execute();

  await db.schema.createTable('sessions')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('data', 'text', (c) => c.notNull())
    .addColumn('expires_at', bigint(dialect), (c) => c.notNull())
    .execute();

  await db.schema.createTable('login_failures')
    .addColumn('key', 'text', (c) => c.primaryKey())
    .addColumn('failures', 'integer', (c) => c.notNull())
    .addColumn('window_started_at', bigint(dialect), (c) => c.notNull())
    .addColumn('locked_until', bigint(dialect))
    .execute();
}
