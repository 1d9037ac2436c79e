import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { sql } from 'kysely';
import { openStorage } from '../../../src/server/storage/index.ts';
import { tempDir } from '../../support/temp-dir.ts';

test('migrations run once and the database reopens with its data (WAL mode)', async (t) => {
  const url = `sqlite:${join(await tempDir(t), 'db', 'canota.db')}`;
  const first = await openStorage(url);
  await first.users.add({ username: 'u', passwordHash: 'h', role: 'admin', now: 1 });
  const mode = await sql<{ journal_mode: string }>`pragma journal_mode`.execute(first.database.db);
  assert.equal(mode.rows[0]?.journal_mode, 'wal');
  await first.close();
  const second = await openStorage(url);
  t.after(() => second.close());
  assert.equal((await second.users.find('u'))?.role, 'admin');
  const migrations = await second.database.db.selectFrom('canota_migrations' as never).selectAll().execute();
  assert.deepEqual(migrations.map((m) => (m as { name: string }).name), ['0001-initial', '0002-audit-append-only', '0003-vehicles', '0004-session-id-hashes', '0005-release-withdrawal', '0006-api-tokens', '0007-vehicle-tags', '0008-deployments', '0009-ecu-registry']);
  await assert.rejects(second.users.add({ username: 'u', passwordHash: 'h', role: 'admin', now: 2 }), /already exists/);
});

test('unsupported database URLs are refused clearly', async () => {
  await assert.rejects(openStorage('mysql://localhost/x'), /unsupported database URL "mysql:\/\/localhost\/x"/);
  await assert.rejects(openStorage('postgres://user:secret@127.0.0.1:1/none'), (error: Error) => !error.message.includes('secret'));
});
