import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { sql } from 'kysely';
import { canonicalJson, checkLink, genesisHash, seal } from '../../../src/server/audit/chain.ts';
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

test('the audit log chains entries and verify() finds the first broken one', async (t) => {
  const storage = await testStorage(t);
  const log = new AuditLog(storage.audit, createLogger({ name: 'test', level: 'silent' }));
  const records = await Promise.all(Array.from({ length: 20 }, (_, i) => log.record({ event: 'download', outcome: 'ok', subject: `f${i}` })));
  const sorted = [...records].sort((a, b) => a.id - b.id);
  for (let i = 1; i < sorted.length; i++) assert.equal(sorted[i]!.prev_hash, sorted[i - 1]!.hash, 'concurrent appends still chain');
  assert.deepEqual(await log.verify(), { entries: 20 });

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
