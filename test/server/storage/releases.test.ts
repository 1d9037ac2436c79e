import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import pg from 'pg';
import { Kysely, Migrator, PostgresDialect, SqliteDialect, sql } from 'kysely';
import { openStorage, type Storage } from '../../../src/server/storage/index.ts';
import { migrationsFor } from '../../../src/server/storage/migrations/index.ts';
import type { Dialect } from '../../../src/server/storage/migrations/column-types.ts';
import { DuplicateReleaseError, type NewRelease } from '../../../src/server/storage/releases.ts';
import { tempDir } from '../../support/temp-dir.ts';
import { postgresMissing, startPostgres } from '../support/postgres.ts';

const release = (filename: string, ecu: string | null, version: string | null): NewRelease => ({
  filename, sha256: 'a'.repeat(64), size: 10, ecu, firmware_version: version, notes: null, uploaded_by: 'alice', uploaded_at: 1_000,
});

/** The same story on SQLite and on PostgreSQL. */
async function releaseStory(storage: Storage): Promise<void> {
  const { releases } = storage;
  const edt2 = await releases.add(release('edt-2.0.0.bin', 'EDT', '2.0.0'));
  const edt1 = await releases.add(release('edt-1.0.0.bin', 'EDT', '1.0.0'));
  await releases.add(release('edt-2.0.0-rc.1.bin', 'EDT', '2.0.0-rc.1'));
  const cgw = await releases.add(release('cgw-1.10.0.bin', 'CGW', '1.10.0'));
  await releases.add(release('cgw-1.9.0.bin', 'CGW', '1.9.0'));
  const bare = await releases.add(release('seed.bin', null, null));

  // Latest per ECU by version order, not upload time: 1.0.0, the rc and 1.9.0 came later but are lower.
  assert.deepEqual((await releases.newestPerEcu()).map((r) => r.filename), ['cgw-1.10.0.bin', 'edt-2.0.0.bin']);
  // /latest_version keeps the seed's meaning: the newest upload.
  assert.equal((await releases.latest())?.id, bare.id);

  // One release per ECU and version, whatever the case of the ECU name or the build metadata.
  for (const [ecu, version] of [['EDT', '2.0.0'], ['edt', '2.0.0'], ['EDT', '2.0.0+build.7']] as const) {
    await assert.rejects(releases.add(release('again.bin', ecu, version)), (error: unknown) => {
      assert.ok(error instanceof DuplicateReleaseError, String(error));
      assert.equal(error.holder?.id, edt2.id, 'names the release that holds the version');
      return true;
    });
  }
  assert.equal((await releases.holder('edt', '2.0.0+other'))?.id, edt2.id);
  assert.equal(await releases.holder('EDT', '2.0.1'), undefined);
  // Seed-style files (no ECU) may share anything, as the seed's did.
  await releases.add(release('seed.bin', null, null));

  // A transaction: a failing beforeCommit leaves no row; a refused row never runs it.
  const count = await releases.count();
  await assert.rejects(releases.add(release('edt-3.0.0.bin', 'EDT', '3.0.0'), { beforeCommit: () => Promise.reject(new Error('disk full')) }), /disk full/);
  assert.equal(await releases.count(), count);
  assert.equal(await releases.holder('EDT', '3.0.0'), undefined, 'the version is still free');
  let ran = false;
  await assert.rejects(releases.add(release('dup.bin', 'EDT', '1.0.0'), { beforeCommit: async () => { ran = true; } }), DuplicateReleaseError);
  assert.equal(ran, false);

  // Withdrawing: once, idempotent, never latest again, never the seed's latest.
  const withdrawn = await releases.withdraw({ id: edt2.id, by: 'bob', at: 5_000, reason: 'bricks EDT-HW-A0' });
  assert.equal(withdrawn?.changed, true);
  assert.deepEqual([withdrawn?.release.withdrawn_at, withdrawn?.release.withdrawn_by, withdrawn?.release.withdrawal_reason], [5_000, 'bob', 'bricks EDT-HW-A0']);
  const again = await releases.withdraw({ id: edt2.id, by: 'carol', at: 9_000, reason: null });
  assert.equal(again?.changed, false);
  assert.deepEqual([again?.release.withdrawn_at, again?.release.withdrawn_by], [5_000, 'bob'], 'the first withdrawal stays');
  assert.equal(await releases.withdraw({ id: 99_999, by: 'bob', at: 1, reason: null }), undefined);
  assert.deepEqual((await releases.newestPerEcu()).map((r) => r.filename), ['cgw-1.10.0.bin', 'edt-2.0.0-rc.1.bin'],
    'the next highest version of EDT takes its place');
  await assert.rejects(releases.add(release('edt-2.0.0-fixed.bin', 'EDT', '2.0.0')), DuplicateReleaseError, 'a withdrawn version stays taken');

  // Filenames: a vehicle only ever gets what is offered; an admin's check-out sees everything.
  const reused = await releases.add(release('edt-1.0.0.bin', 'EDT', '1.0.1'));
  await releases.withdraw({ id: reused.id, by: 'bob', at: 6_000, reason: null });
  assert.equal((await releases.newestNamed('edt-1.0.0.bin'))?.id, reused.id);
  assert.equal((await releases.newestOfferedNamed('edt-1.0.0.bin'))?.id, edt1.id);
  await releases.withdraw({ id: edt1.id, by: 'bob', at: 7_000, reason: null });
  assert.equal(await releases.newestOfferedNamed('edt-1.0.0.bin'), undefined);

  for (const r of await releases.list({ limit: 100 })) if (r.ecu === null) await releases.withdraw({ id: r.id, by: 'bob', at: 8_000, reason: null });
  assert.equal((await releases.latest())?.id, (await releases.list({ limit: 100 })).find((r) => r.withdrawn_at === null)!.id, 'the newest upload not withdrawn');
  for (const r of await releases.list({ limit: 100 })) await releases.withdraw({ id: r.id, by: 'bob', at: 8_000, reason: null });
  assert.equal(await releases.latest(), undefined);
  assert.deepEqual(await releases.newestPerEcu(), []);

  // Paging.
  const total = await releases.count();
  assert.equal(total, 8);
  const pages = [await releases.list({ limit: 3 }), await releases.list({ limit: 3, offset: 3 }), await releases.list({ limit: 3, offset: 6 })];
  assert.deepEqual(pages.map((p) => p.length), [3, 3, 2]);
  const ids = pages.flat().map((r) => r.id);
  assert.deepEqual(ids, [...ids].sort((a, b) => b - a), 'newest upload first, across pages');
  assert.equal(new Set(ids).size, total);
  assert.equal(cgw.version_key, 'CGW 1.10.0');
}

test('releases: latest by version, one per ECU and version, withdrawal, paging (SQLite)', async (t) => {
  const dir = await tempDir(t);
  const storage = await openStorage(`sqlite:${join(dir, 'test.db')}`);
  t.after(() => storage.close());
  await releaseStory(storage);
});

test('the same on a real PostgreSQL', { skip: postgresMissing }, async (t) => {
  const postgres = await startPostgres(t);
  const storage = await openStorage(await postgres.createDatabase());
  try {
    await releaseStory(storage);
  } finally {
    await storage.close();
  }
});

/**
 * A database from before migration 0005, holding what was accepted then: two releases of EDT 1.0.0 (one as
 * "edt"), one of EDT 1.0.0+b, a release without a version. The upgrade keeps them all, keys only the newest of
 * each version, and from then on refuses another.
 */
async function upgradeStory(db: Kysely<unknown>, dialect: Dialect, url: string): Promise<void> {
  const migrator = new Migrator({ db, provider: migrationsFor(dialect), migrationTableName: 'canota_migrations', migrationLockTableName: 'canota_migrations_lock' });
  const before = await migrator.migrateTo('0004-session-id-hashes');
  assert.equal(before.error, undefined);
  for (const [filename, ecu, version] of [['a.bin', 'EDT', '1.0.0'], ['b.bin', 'edt', '1.0.0'], ['c.bin', 'EDT', '1.0.0+b'], ['d.bin', 'EDT', null]]) {
    await sql`insert into releases (filename, sha256, size, ecu, firmware_version, notes, uploaded_by, uploaded_at)
      values (${filename}, ${'b'.repeat(64)}, 1, ${ecu}, ${version}, null, 'old', 1)`.execute(db);
  }
  await db.destroy();

  const storage = await openStorage(url);
  try {
    await upgraded(storage);
  } finally {
    await storage.close();
  }
}

async function upgraded(storage: Storage): Promise<void> {
  const rows = await storage.releases.list({ limit: 10 });
  assert.deepEqual(rows.map((r) => [r.filename, r.version_key, r.withdrawn_at]).reverse(),
    [['a.bin', null, null], ['b.bin', null, null], ['c.bin', 'EDT 1.0.0', null], ['d.bin', null, null]]);
  assert.equal((await storage.releases.newestPerEcu())[0]?.filename, 'c.bin', 'equal versions: the newer upload');
  await assert.rejects(storage.releases.add(release('e.bin', 'EDT', '1.0.0')), (error: unknown) =>
    error instanceof DuplicateReleaseError && error.holder?.filename === 'c.bin');
  assert.equal((await storage.releases.add(release('f.bin', 'EDT', '1.0.1'))).version_key, 'EDT 1.0.1');
}

test('migration 0005 on a database with duplicate releases (SQLite)', async (t) => {
  const file = join(await tempDir(t), 'old.db');
  const db = new Kysely<unknown>({ dialect: new SqliteDialect({ database: new BetterSqlite3(file) }) });
  await upgradeStory(db, 'sqlite', `sqlite:${file}`);
});

test('migration 0005 on a database with duplicate releases (PostgreSQL)', { skip: postgresMissing }, async (t) => {
  const postgres = await startPostgres(t);
  const url = await postgres.createDatabase();
  const db = new Kysely<unknown>({ dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url }) }) });
  await upgradeStory(db, 'postgres', url);
});
