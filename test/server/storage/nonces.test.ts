import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { NonceService } from '../../../src/server/nonces/nonce-service.ts';
import { testStorage } from '../support/storage.ts';

test('a nonce is spent once, bound to its file, and stored only as a hash', async (t) => {
  const storage = await testStorage(t);
  let now = 1_000_000;
  const nonces = new NonceService(storage.nonces, 60, () => now);
  const { nonce, expiresIn } = await nonces.issue('10.0.0.1', 'VIN123');
  assert.equal(expiresIn, 60);
  assert.match(nonce, /^[0-9a-f]{64}$/);

  const row = await storage.database.db.selectFrom('nonces').selectAll().executeTakeFirstOrThrow();
  assert.notEqual(row.nonce_hash, nonce);
  assert.ok(!JSON.stringify(row).includes(nonce), 'the nonce itself is nowhere in the database');

  assert.equal((await nonces.consume(nonce, 'a.bin', '10.0.0.2')).outcome, 'foreign', 'a vehicle\'s nonce is no use to an anonymous client');
  assert.equal((await nonces.consume(nonce, 'a.bin', '10.0.0.2', 'VIN999')).outcome, 'foreign', 'nor to another vehicle');
  assert.deepEqual(await nonces.consume(nonce, 'a.bin', '10.0.0.2', 'VIN123'), { outcome: 'ok', issuedTo: 'VIN123' });
  const used = await storage.database.db.selectFrom('nonces').selectAll().executeTakeFirstOrThrow();
  assert.equal(used.used_for, 'a.bin');
  assert.equal(used.used_by_ip, '10.0.0.2');
  assert.equal((await nonces.consume(nonce, 'a.bin', '10.0.0.2', 'VIN123')).outcome, 'used');
  assert.equal((await nonces.consume(nonce, 'b.bin', '10.0.0.2', 'VIN123')).outcome, 'used', 'not reusable for another file either');
  const anonymous = await nonces.issue('10.0.0.1', null);
  assert.equal((await nonces.consume(anonymous.nonce, 'a.bin', '10.0.0.1', 'VIN123')).outcome, 'foreign', 'an anonymous nonce is bound to anonymous use');
  assert.deepEqual(await nonces.consume(anonymous.nonce, 'a.bin', '10.0.0.1'), { outcome: 'ok', issuedTo: null });

  const late = await nonces.issue('10.0.0.1', null);
  now += 60_000;
  assert.equal((await nonces.consume(late.nonce, 'a.bin', '10.0.0.1')).outcome, 'expired');
  assert.equal((await nonces.consume(undefined, 'a.bin', '10.0.0.1')).outcome, 'missing');
  assert.equal((await nonces.consume('XYZ', 'a.bin', '10.0.0.1')).outcome, 'malformed');
  assert.equal((await nonces.consume('0'.repeat(64), 'a.bin', '10.0.0.1')).outcome, 'unknown');

  now += 3600_000 + 1;
  assert.equal(await nonces.prune(), 3);
});

test('many concurrent uses of one nonce: exactly one wins', async (t) => {
  const storage = await testStorage(t);
  const nonces = new NonceService(storage.nonces, 60);
  for (let round = 0; round < 10; round++) {
    const { nonce } = await nonces.issue('127.0.0.1', null);
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => nonces.consume(nonce, `f${i}.bin`, '127.0.0.1')));
    assert.equal(results.filter((r) => r.outcome === 'ok').length, 1);
    assert.equal(results.filter((r) => r.outcome === 'used').length, 7);
  }
});

test('nonces are unique', async (t) => {
  const storage = await testStorage(t);
  const nonces = new NonceService(storage.nonces, 60);
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) seen.add((await nonces.issue('127.0.0.1', null)).nonce);
  assert.equal(seen.size, 200);
});

test('pruning forgets nonces an hour past their expiry, and keeps every nonce still valid or recently spent', async (t) => {
  const storage = await testStorage(t);
  let now = 1_000_000;
  const nonces = new NonceService(storage.nonces, 60, () => now);
  const old = await nonces.issue('10.0.0.1', null);
  now += 60_000 + 3600_000; // `old` expired exactly one hour ago: the boundary, still kept
  const freshExpiry = now + 60_000;
  const fresh = await nonces.issue('10.0.0.1', null);
  const spent = await nonces.issue('10.0.0.1', null);
  assert.equal((await nonces.consume(spent.nonce, 'a.bin', '10.0.0.1')).outcome, 'ok');

  assert.equal(await nonces.prune(), 0, 'nothing is an hour past its expiry yet');
  now += 1;
  assert.equal(await nonces.prune(), 1, 'one millisecond later the old nonce goes');
  assert.equal((await nonces.consume(old.nonce, 'a.bin', '10.0.0.1')).outcome, 'unknown', 'it is gone, not merely expired');
  assert.equal((await nonces.consume(spent.nonce, 'a.bin', '10.0.0.1')).outcome, 'used', 'a spent, unexpired nonce is kept: a replay is still recognised');
  assert.equal((await nonces.consume(fresh.nonce, 'a.bin', '10.0.0.1')).outcome, 'ok', 'a download holding a valid nonce is not broken by pruning');

  now = freshExpiry + 3600_000;
  assert.equal(await nonces.prune(), 0, 'the spent ones expired exactly an hour ago: kept');
  now += 1;
  assert.equal(await nonces.prune(), 2);
});

test('only exactly 64 lower-case hex digits are a nonce; a refusal never names a client; the stored hash is the nonce\'s hex SHA-256', async (t) => {
  const storage = await testStorage(t);
  let now = 5_000_000;
  const nonces = new NonceService(storage.nonces, 30, () => now);
  const { nonce } = await nonces.issue('10.0.0.1', 'VIN123');
  // The real nonce with anything around it is malformed, not looked up.
  for (const bad of [`x${nonce}`, `${nonce}x`, `${nonce}\n`, ` ${nonce}`, nonce.toUpperCase(), nonce.slice(1)]) {
    assert.deepEqual(await nonces.consume(bad, 'a.bin', '10.0.0.1', 'VIN123'), { outcome: 'malformed', issuedTo: null }, JSON.stringify(bad));
  }
  assert.deepEqual(await nonces.consume('', 'a.bin', '10.0.0.1', 'VIN123'), { outcome: 'missing', issuedTo: null });

  const row = await storage.database.db.selectFrom('nonces').selectAll().executeTakeFirstOrThrow();
  assert.equal(row.nonce_hash, createHash('sha256').update(nonce).digest('hex'), 'the format a database of an earlier version holds');

  // Every refusal: outcome, and issuedTo null (not left out).
  assert.deepEqual(await nonces.consume(nonce, 'a.bin', '10.0.0.1', 'VIN999'), { outcome: 'foreign', issuedTo: null });
  assert.deepEqual(await nonces.consume('f'.repeat(64), 'a.bin', '10.0.0.1', 'VIN123'), { outcome: 'unknown', issuedTo: null });
  assert.deepEqual(await nonces.consume(nonce, 'a.bin', '10.0.0.1', 'VIN123'), { outcome: 'ok', issuedTo: 'VIN123' });
  assert.deepEqual(await nonces.consume(nonce, 'a.bin', '10.0.0.1', 'VIN123'), { outcome: 'used', issuedTo: null });
  const late = await nonces.issue('10.0.0.1', 'VIN123');
  now += 29_999;
  const early = await nonces.issue('10.0.0.1', 'VIN123');
  now += 1;
  assert.deepEqual(await nonces.consume(late.nonce, 'a.bin', '10.0.0.1', 'VIN123'), { outcome: 'expired', issuedTo: null }, 'ttl 30 s');
  assert.deepEqual(await nonces.consume(early.nonce, 'a.bin', '10.0.0.1', 'VIN123'), { outcome: 'ok', issuedTo: 'VIN123' });
});
