import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { sql } from 'kysely';
import { randomBytes } from 'node:crypto';
import { canonicalJson, checkLink, entryHash, genesisHash, seal } from '../../../src/server/audit/chain.ts';
import { AuditLog } from '../../../src/server/audit/audit-log.ts';
import { createLogger } from '../../../src/logging/logger.ts';
import type { AuditRecord } from '../../../src/server/storage/audit-entries.ts';
import { testStorage } from '../support/storage.ts';

const entry = fc.record({
  at: fc.integer({ min: 0, max: 2 ** 42 }),
  event: fc.string({ minLength: 1 }),
  outcome: fc.constantFrom('ok', 'failed', 'denied'),
  actor: fc.option(fc.string()),
  ip: fc.option(fc.string()),
  subject: fc.option(fc.string()),
  details: fc.dictionary(fc.string(), fc.jsonValue()).map(canonicalJson),
});

test('changing any field of a sealed entry breaks its link', () => {
  fc.assert(fc.property(entry, fc.constantFrom('at', 'event', 'outcome', 'actor', 'ip', 'subject', 'details', 'prev_hash'), (e, field) => {
    const record = { id: 1, ...seal(e, null) } as AuditRecord;
    assert.equal(checkLink(record, genesisHash), undefined);
    const tampered = { ...record, [field]: field === 'at' ? record.at + 1 : `${String(record[field as keyof AuditRecord])}x` } as AuditRecord;
    assert.ok(checkLink(tampered, genesisHash), `changing ${field} went unnoticed`);
  }));
});

test('canonical JSON does not depend on key order', () => {
  fc.assert(fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (object) => {
    const reversed = Object.fromEntries(Object.entries(object).reverse());
    assert.equal(canonicalJson(reversed), canonicalJson(object));
  }));
});

test('a keyed seal cannot be recomputed without the key', () => {
  fc.assert(fc.property(entry, (e) => {
    const key = randomBytes(32);
    const record = { id: 1, ...seal(e, null, key) } as AuditRecord;
    assert.equal(checkLink(record, genesisHash, key), undefined);
    assert.ok(checkLink(record, genesisHash, randomBytes(32)), 'another key does not verify it');
    assert.ok(checkLink(record, genesisHash), 'nor does the unkeyed hash');
    assert.ok(checkLink({ ...record, hash: entryHash(record) }, genesisHash, key), 'an unkeyed re-seal does not pass as keyed');
  }));
});

test('with the key, unkeyed entries pass only as a prefix before the first keyed one', async (t) => {
  const storage = await testStorage(t);
  const logger = createLogger({ name: 'test', level: 'silent' });
  const key = randomBytes(32);
  const legacy = new AuditLog(storage.audit, logger);
  const keyed = new AuditLog(storage.audit, logger, { key });
  await legacy.record({ event: 'login', outcome: 'ok' });
  await legacy.record({ event: 'upload', outcome: 'ok' });
  assert.match(String((await keyed.verify()).problem?.reason), /no entry is sealed with the audit key/);
  await keyed.record({ event: 'audit.key', outcome: 'ok' });
  const head = await keyed.record({ event: 'download', outcome: 'ok' });
  const verified = await keyed.verify([{ id: head.id, hash: head.hash, entries: 4 }, { id: head.id, hash: head.hash, entries: 3 }, { id: 99, hash: 'x', entries: 99 }]);
  assert.equal(verified.problem, undefined);
  assert.deepEqual([verified.entries, verified.legacyEntries, verified.head], [4, 2, { id: head.id, hash: head.hash, entries: 4 }]);
  assert.equal(verified.claims[0], undefined, 'a claim that holds');
  assert.match(String(verified.claims[1]), /it is entry 4, not 3/);
  assert.match(String(verified.claims[2]), /#99 is no longer in the log/);
  await legacy.record({ event: 'upload', outcome: 'ok', actor: 'forger' });
  assert.match(String((await keyed.verify()).problem?.reason), /hash does not match .* under the audit key/, 'no unkeyed entry after a keyed one');
});

test('the audit log chains entries and verify() finds the first broken one', async (t) => {
  const storage = await testStorage(t);
  const log = new AuditLog(storage.audit, createLogger({ name: 'test', level: 'silent' }), { key: randomBytes(32) });
  const records = await Promise.all(Array.from({ length: 20 }, (_, i) => log.record({ event: 'download', outcome: 'ok', subject: `f${i}` })));
  const sorted = [...records].sort((a, b) => a.id - b.id);
  for (let i = 1; i < sorted.length; i++) assert.equal(sorted[i]!.prev_hash, sorted[i - 1]!.hash, 'concurrent appends still chain');
  const verified = await log.verify();
  assert.deepEqual([verified.entries, verified.problem], [20, undefined]);

  const tamper = () => storage.database.db.updateTable('audit_log').set({ outcome: 'failed' }).where('id', '=', sorted[7]!.id).execute();
  await assert.rejects(tamper(), /append-only/, 'the database refuses edits');
  await assert.rejects(storage.database.db.deleteFrom('audit_log').execute(), /append-only/);
  // Someone with full access to the database file can drop the guards; the chain still tells.
  await sql`drop trigger audit_log_no_update`.execute(storage.database.db);
  await tamper();
  const result = await log.verify();
  assert.equal(result.entries, 7);
  assert.equal(result.problem?.id, sorted[7]!.id);
});
