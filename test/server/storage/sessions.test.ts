import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Kysely, Migrator, SqliteDialect } from 'kysely';
import BetterSqlite3 from 'better-sqlite3';
import { openStorage } from '../../../src/server/storage/index.ts';
import { sessionKey } from '../../../src/server/storage/sessions.ts';
import { migrationsFor } from '../../../src/server/storage/migrations/index.ts';
import { testStorage } from '../support/storage.ts';
import { tempDir } from '../../support/temp-dir.ts';

test('sessions are stored under the SHA-256 of their id, and found by the id', async (t) => {
  const storage = await testStorage(t);
  await storage.sessions.set('the-cookie-id', '{"user":1}', 10_000);
  const rows = await storage.database.db.selectFrom('sessions').select('id').execute();
  assert.deepEqual(rows.map((r) => r.id), [sessionKey('the-cookie-id')]);
  assert.match(rows[0]!.id, /^[0-9a-f]{64}$/);
  assert.equal(await storage.sessions.get('the-cookie-id', 0), '{"user":1}');
  assert.equal(await storage.sessions.get(sessionKey('the-cookie-id'), 0), undefined, 'the stored value is not an id');
  await storage.sessions.destroy('the-cookie-id');
  assert.equal(await storage.sessions.get('the-cookie-id', 0), undefined);
});

test('the upgrade to hashed ids deletes the sessions stored in clear', async (t) => {
  const url = `sqlite:${join(await tempDir(t), 'canota.db')}`;
  const old = new Kysely<{ sessions: { id: string; data: string; expires_at: number } }>({
    dialect: new SqliteDialect({ database: new BetterSqlite3(url.slice('sqlite:'.length)) }),
  });
  const migrator = new Migrator({
    db: old, provider: migrationsFor('sqlite'), migrationTableName: 'canota_migrations', migrationLockTableName: 'canota_migrations_lock',
  });
  assert.equal((await migrator.migrateTo('0003-vehicles')).error, undefined);
  await old.insertInto('sessions').values({ id: 'live-id-in-clear', data: '{}', expires_at: Date.now() + 60_000 }).execute();
  await old.destroy();

  const storage = await openStorage(url);
  t.after(() => storage.close());
  assert.deepEqual(await storage.database.db.selectFrom('sessions').selectAll().execute(), []);
});
