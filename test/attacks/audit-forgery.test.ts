import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { runCanota } from '../support/canota-process.ts';
import { admin, employee, loggedIn, startTestServer } from '../server/support/server.ts';
import { entryHash, genesisHash } from '../../src/server/audit/chain.ts';
import type { AuditRecord } from '../../src/server/storage/audit-entries.ts';
import { image } from '../server/support/images.ts';

type Row = AuditRecord;

/**
 * Attack: a writer of the database (not of the key files) rewrites audit history. The hash-chain format is
 * public, so an unkeyed chain can be recomputed by anyone: append a forged "upload ok by admin", or delete
 * two failed logins and re-chain everything after them. Each must make `canota audit verify` exit 1.
 */
test('a database writer cannot forge, delete or re-chain audit entries unnoticed', async (t) => {
  const server = await startTestServer(t);
  await server.client().login(employee.username, 'wrong-password-1');
  await server.client().login(employee.username, 'wrong-password-2');
  const boss = await loggedIn(server, admin);
  assert.equal((await boss.upload('real.bin', image('real'))).status, 200);
  await server.process.stop();

  const verify = () => runCanota(['audit', 'verify', '--data-dir', server.dataDir]);
  const withDatabase = <T>(work: (db: Database.Database) => T): T => {
    const db = new Database(server.databaseFile);
    try {
      return work(db);
    } finally {
      db.close();
    }
  };
  const rows = () => withDatabase((db) => db.prepare('select * from audit_log order by id').all() as Row[]);
  const insert = (db: Database.Database, row: Omit<Row, 'id'> & { id?: number }) => db.prepare(
    'insert into audit_log (id, at, event, outcome, actor, ip, subject, details, prev_hash, hash) values (@id, @at, @event, @outcome, @actor, @ip, @subject, @details, @prev_hash, @hash)',
  ).run({ id: null, ...row });
  /** What an attacker computes with the public format: each entry's hash over its fields and the previous hash. */
  const rechained = (entries: Row[]): Row[] => {
    let prev = genesisHash;
    return entries.map((e) => {
      const row = { ...e, prev_hash: prev };
      prev = row.hash = entryHash(row);
      return row;
    });
  };
  const original = rows();

  await t.test('the key lives outside the database, owner-only', async () => {
    const key = join(server.dataDir, 'keys', 'audit-chain.key');
    assert.equal((await stat(key)).mode & 0o777, 0o600);
    assert.match(await readFile(key, 'utf8'), /^[0-9a-f]{64}\n$/);
    assert.equal(original[0]!.event, 'audit.key', 'the first entry records that the keyed chain began');
    const intact = await verify();
    assert.equal(intact.code, 0, intact.stderr);
  });

  await t.test('a forged "upload ok by admin" appended at the end', async () => {
    const last = original[original.length - 1]!;
    const forged = { at: last.at + 1000, event: 'upload', outcome: 'ok', actor: admin.username, ip: '127.0.0.1', subject: 'evil.bin',
      details: '{"release_id":99,"sha256":"00","size":4}', prev_hash: last.hash };
    const id = withDatabase((db) => Number(insert(db, { ...forged, hash: entryHash(forged) }).lastInsertRowid));
    const result = await verify();
    assert.equal(result.code, 1, `verify must fail: ${result.stdout}`);
    assert.match(result.stderr, new RegExp(`first bad entry #${id}: hash does not match`));
    withDatabase((db) => {
      db.exec('drop trigger if exists audit_log_no_delete');
      db.prepare('delete from audit_log where id = ?').run(id);
    });
    assert.equal((await verify()).code, 0, 'intact again once the forgery is gone');
  });

  await t.test('two failed logins deleted and the entries after them re-chained', async () => {
    const failed = original.filter((r) => r.event === 'login' && r.outcome === 'failed');
    assert.equal(failed.length, 2);
    const kept = original.filter((r) => !failed.includes(r));
    const from = kept.findIndex((r) => r.id > failed[0]!.id);
    // Keep the entries before the deletion as they are; recompute the rest onto them.
    let prev = kept[from - 1]!.hash;
    const rewritten = kept.slice(from).map((e) => {
      const row = { ...e, prev_hash: prev };
      prev = row.hash = entryHash(row);
      return row;
    });
    withDatabase((db) => {
      db.exec('drop trigger if exists audit_log_no_update; drop trigger if exists audit_log_no_delete');
      for (const r of failed) db.prepare('delete from audit_log where id = ?').run(r.id);
      for (const r of rewritten) db.prepare('update audit_log set prev_hash = ?, hash = ? where id = ?').run(r.prev_hash, r.hash, r.id);
    });
    const result = await verify();
    assert.equal(result.code, 1, `verify must fail: ${result.stdout}`);
    assert.match(result.stderr, new RegExp(`first bad entry #${rewritten[0]!.id}: hash does not match`));
  });

  await t.test('the whole log re-chained without the key (the keyed start rewritten too)', async () => {
    const rewritten = rechained(original.filter((r) => !(r.event === 'login' && r.outcome === 'failed')));
    withDatabase((db) => {
      db.prepare('delete from audit_log').run();
      for (const r of rewritten) insert(db, r);
    });
    const result = await verify();
    assert.equal(result.code, 1, `verify must fail: ${result.stdout}`);
    assert.match(result.stderr, /no entry is sealed with the audit key/);
  });

  await t.test('every entry removed', async () => {
    withDatabase((db) => db.prepare('delete from audit_log').run());
    const result = await verify();
    assert.equal(result.code, 1, `verify must fail: ${result.stdout}`);
    assert.match(result.stderr, /empty although the audit key exists/);
  });
});
