import { sql, type Kysely } from 'kysely';
import { type Dialect, bigint } from './column-types.ts';

/**
 * Releases can be withdrawn (when, by whom, why), and one ECU has at most one release per version: a
 * unique `version_key` (`<ECU in capitals> <version without +build>`, null for releases naming no ECU or
 * no version). Databases from before may hold several releases of one ECU and version (nothing refused them
 * then); only the newest of each gets the key, so the older ones stay as they are and nothing new can
 * join them. The key is computed here, not with the server's helper, so this step never changes.
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  // One column per statement: SQLite's ALTER TABLE adds one at a time.
  await db.schema.alterTable('releases').addColumn('withdrawn_at', bigint(dialect)).execute();
  await db.schema.alterTable('releases').addColumn('withdrawn_by', 'text').execute();
  await db.schema.alterTable('releases').addColumn('withdrawal_reason', 'text').execute();
  await db.schema.alterTable('releases').addColumn('version_key', 'text').execute();

  const { rows } = await sql<{ id: number | string; ecu: string; firmware_version: string }>`
    select id, ecu, firmware_version from releases
    where ecu is not null and firmware_version is not null order by id desc`.execute(db);
  const keyed = new Set<string>();
  for (const row of rows) {
    const key = `${row.ecu.trim().toUpperCase()} ${row.firmware_version.trim().replace(/\+.*$/, '')}`;
    if (keyed.has(key)) continue;
    keyed.add(key);
    await sql`update releases set version_key = ${key} where id = ${Number(row.id)}`.execute(db);
  }
  await db.schema.createIndex('releases_version_key').on('releases').column('version_key').unique().execute();
}
