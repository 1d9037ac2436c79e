import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { GRANT_BYTES, issueGrant, securityAccessKey, verifyGrant, type GrantFields } from '../../../src/vehicle/keys/programming-grant.ts';

const key = new Uint8Array(randomBytes(32));
const seed = new Uint8Array(randomBytes(16));
const program: GrantFields = { purpose: 'program', updateId: new Uint8Array(randomBytes(16)), image: { sha256: 'cd'.repeat(32), size: 123_456 } };

test('a grant verifies for its ECU and seed and carries the approved image', () => {
  const grant = issueGrant(key, 'EDT', seed, program);
  assert.equal(grant.length, GRANT_BYTES);
  const verdict = verifyGrant(key, 'EDT', seed, grant);
  assert.ok(verdict.ok);
  assert.deepEqual(verdict.grant, program);
  const rollback = verifyGrant(key, 'EDT', seed, issueGrant(key, 'EDT', seed, { ...program, purpose: 'rollback', image: null }));
  assert.ok(rollback.ok && rollback.grant.purpose === 'rollback' && rollback.grant.image === null);
});

test('a grant for another seed, another ECU, made with another key, or without a session is refused', () => {
  const grant = issueGrant(key, 'EDT', seed, program);
  assert.match((verifyGrant(key, 'EDT', new Uint8Array(randomBytes(16)), grant) as { reason: string }).reason, /not authentic/);
  assert.match((verifyGrant(key, 'CGW', seed, grant) as { reason: string }).reason, /not authentic/);
  assert.match((verifyGrant(new Uint8Array(randomBytes(32)), 'EDT', seed, grant) as { reason: string }).reason, /not authentic/);
  assert.match((verifyGrant(key, 'EDT', null, grant) as { reason: string }).reason, /unlock first/);
  assert.match((verifyGrant(key, 'EDT', seed, grant.subarray(1)) as { reason: string }).reason, /69 bytes, got 68/);
});

test('changing any bit of a grant makes it worthless', () => {
  const grant = issueGrant(key, 'EDT', seed, program);
  fc.assert(fc.property(fc.nat(GRANT_BYTES * 8 - 1), (bit) => {
    const tampered = new Uint8Array(grant);
    tampered[bit >> 3]! ^= 1 << (bit & 7);
    assert.equal(verifyGrant(key, 'EDT', seed, tampered).ok, false);
  }), { numRuns: 200 });
});

test('the security-access key depends on the key, the ECU and the seed', () => {
  const a = securityAccessKey(key, 'EDT', seed);
  assert.equal(a.length, 16);
  assert.deepEqual(securityAccessKey(key, 'EDT', seed), a);
  assert.notDeepEqual(securityAccessKey(key, 'CGW', seed), a);
  assert.notDeepEqual(securityAccessKey(key, 'EDT', new Uint8Array(randomBytes(16))), a);
  assert.notDeepEqual(securityAccessKey(new Uint8Array(randomBytes(32)), 'EDT', seed), a);
});
