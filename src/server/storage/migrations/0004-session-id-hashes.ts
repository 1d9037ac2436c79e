import type { Kysely } from 'kysely';
import type { Dialect } from './column-types.ts';

/**
 * Sessions are now keyed by the SHA-256 of their id (see storage/sessions.ts). Rows written before hold
 * live ids in clear, readable by anyone who reads the table, and would never be found again by hash: they
 * are deleted, so everyone logged in must log in once more after the upgrade.
 */
export async function up(db: Kysely<unknown>, _dialect: Dialect): Promise<void> {
  await (db as Kysely<{ sessions: { id: string } }>).deleteFrom('sessions').execute();
}
