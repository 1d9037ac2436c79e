import type { Kysely } from 'kysely';
import { type Dialect, bigint, addIdColumn } from './column-types.ts';

/**
 * API tokens for the management API (a CI pipeline publishing without a browser session): a name, the
 * SHA-256 of the token (the token is shown once), its scopes, who made it, when it expires, when it was
 * revoked and when it was last used.
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  await addIdColumn(db.schema.createTable('api_tokens'), dialect)
    .addColumn('name', 'text', (c) => c.notNull().unique())
    .addColumn('token_hash', 'text', (c) => c.notNull().unique())
    .addColumn('scopes', 'text', (c) => c.notNull())
    .addColumn('created_by', 'text', (c) => c.notNull())
    .addColumn('created_at', bigint(dialect), (c) => c.notNull())
    .addColumn('expires_at', bigint(dialect))
    .addColumn('revoked_at', bigint(dialect))
    .addColumn('revoked_by', 'text')
    .addColumn('last_used_at', bigint(dialect))
    .addColumn('last_used_ip', 'text')
    .execute();
}
