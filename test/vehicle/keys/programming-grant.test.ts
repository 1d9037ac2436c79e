import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
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

/** The documented formats (docs/in-vehicle-security.md), computed here independently of the module. */
function hmac(label: string, ecu: string, seedBytes: Uint8Array, body: Uint8Array): Buffer {
  const name = Buffer.from(ecu, 'utf8');
  return createHmac('sha256', key).update(label).update(Uint8Array.of(name.length)).update(name)
    .update(Uint8Array.of(seedBytes.length)).update(seedBytes).update(body).digest().subarray(0, 16);
}

test('the key and the grant are the documented HMACs: labels, length-prefixed ECU name and seed, and the 53-byte body', () => {
  assert.deepEqual(Buffer.from(securityAccessKey(key, 'EDT', seed)), hmac('canota security access', 'EDT', seed, new Uint8Array(0)));
  const grant = issueGrant(key, 'EDT', seed, program);
  const body = grant.subarray(0, 53);
  assert.deepEqual(Buffer.from(body.subarray(0, 16)), Buffer.from(program.updateId));
  assert.equal(Buffer.from(body.subarray(16, 48)).toString('hex'), program.image!.sha256);
  assert.equal(Buffer.from(body.subarray(48, 52)).readUInt32BE(), 123_456);
  assert.equal(body[52], 0x01);
  assert.deepEqual(Buffer.from(grant.subarray(53)), hmac('canota programming grant', 'EDT', seed, body));
  // An access grant: no image (32 zero bytes, size 0), purpose 0x00.
  const access = issueGrant(key, 'EDT', seed, { purpose: 'access', updateId: program.updateId, image: null });
  assert.deepEqual(Buffer.from(access.subarray(16, 53)), Buffer.alloc(37));
  const verdict = verifyGrant(key, 'EDT', seed, access);
  assert.ok(verdict.ok && verdict.grant.purpose === 'access' && verdict.grant.image === null);
});

test('a refused grant says ok: false, whatever the reason', () => {
  const grant = issueGrant(key, 'EDT', seed, program);
  assert.equal(verifyGrant(key, 'EDT', null, grant).ok, false);
  assert.equal(verifyGrant(key, 'EDT', seed, new Uint8Array(GRANT_BYTES + 1)).ok, false);
  assert.equal(verifyGrant(key, 'EDT', seed, new Uint8Array(0)).ok, false);
});

test('an authentic grant with an unknown purpose byte is refused', () => {
  for (const code of [0x03, 0xff]) {
    const body = new Uint8Array(issueGrant(key, 'EDT', seed, program).subarray(0, 53));
    body[52] = code;
    const forged = Buffer.concat([body, hmac('canota programming grant', 'EDT', seed, body)]);
    const verdict = verifyGrant(key, 'EDT', seed, forged);
    assert.equal(verdict.ok, false);
    assert.equal((verdict as { reason: string }).reason, `unknown grant purpose 0x${code.toString(16)}`);
  }
});

test('a grant is not issued for a malformed update id or image SHA-256', () => {
  assert.throws(() => issueGrant(key, 'EDT', seed, { ...program, updateId: new Uint8Array(15) }),
    (error: unknown) => error instanceof RangeError && error.message === 'an update id has 16 bytes, got 15');
  assert.throws(() => issueGrant(key, 'EDT', seed, { ...program, updateId: new Uint8Array(17) }), /got 17/);
  for (const sha256 of ['CD'.repeat(32), 'cd'.repeat(31), `x${'cd'.repeat(32)}`, `${'cd'.repeat(32)}x`, 'zz'.repeat(32)]) {
    assert.throws(() => issueGrant(key, 'EDT', seed, { ...program, image: { sha256, size: 1 } }),
      (error: unknown) => error instanceof RangeError && error.message === 'an image SHA-256 is 64 lowercase hex digits', sha256);
  }
});
