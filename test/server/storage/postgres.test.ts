import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openStorage } from '../../../src/server/storage/index.ts';
import { NonceService } from '../../../src/server/nonces/nonce-service.ts';
import { AuditLog } from '../../../src/server/audit/audit-log.ts';
import { createLogger } from '../../../src/logging/logger.ts';
import { postgresMissing, startPostgres } from '../support/postgres.ts';

test('storage on a real PostgreSQL: migrations, users, releases, nonces, audit chain', { skip: postgresMissing }, async (t) => {
  const postgres = await startPostgres(t);
  const url = await postgres.createDatabase();
  const storage = await openStorage(url);
  assert.equal(storage.database.dialect, 'postgres');

  await storage.users.add({ username: 'pg-admin', passwordHash: 'h', role: 'admin', now: Date.now() });
  await assert.rejects(storage.users.add({ username: 'pg-admin', passwordHash: 'h', role: 'admin', now: 1 }), /already exists/);
  const release = await storage.releases.add({
    filename: 'a.bin', sha256: 'b'.repeat(64), size: 5_000_000_000, ecu: 'EDT', firmware_version: '1', notes: null,
    uploaded_by: 'pg-admin', uploaded_at: 1_700_000_000_123,
  });
  assert.equal(typeof release.id, 'number', 'bigserial ids come back as numbers');
  assert.equal(release.size, 5_000_000_000, 'sizes past 2^32 survive');
  assert.equal((await storage.releases.latest())?.uploaded_at, 1_700_000_000_123);

  // A second "server instance": its own pool on the same database.
  const other = await openStorage(url);
  const here = new NonceService(storage.nonces, 60);
  const there = new NonceService(other.nonces, 60);
  for (let round = 0; round < 10; round++) {
    const { nonce } = await here.issue('127.0.0.1', null);
    const uses = await Promise.all([here, there, here, there].map((s) => s.consume(nonce, 'a.bin', '127.0.0.1')));
    assert.equal(uses.filter((u) => u.outcome === 'ok').length, 1, 'exactly one use wins, across instances');
  }

  const logger = createLogger({ name: 'test', level: 'silent' });
  // Instances sharing a database share the audit key too (docs/server.md).
  const key = randomBytes(32);
  const logs = [new AuditLog(storage.audit, logger, { key }), new AuditLog(other.audit, logger, { key })];
  await Promise.all(Array.from({ length: 30 }, (_, i) => logs[i % 2]!.record({ event: 'download', outcome: 'ok', subject: String(i) })));
  const verified = await logs[0]!.verify();
  assert.equal(verified.problem, undefined, 'concurrent appends from two instances still form one keyed chain');
  assert.equal(verified.entries, 30);
  await assert.rejects(storage.database.db.updateTable('audit_log').set({ outcome: 'failed' }).execute(), /append-only/);
  await assert.rejects(storage.database.db.deleteFrom('audit_log').execute(), /append-only/);

  await Promise.all([storage.close(), other.close()]);
  const reopened = await openStorage(url);
  assert.equal((await reopened.users.find('pg-admin'))?.role, 'admin', 'migrations are not re-run');
  await reopened.close();
});
