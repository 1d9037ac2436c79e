import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bcryptCost, checkPasswordPolicy, generatePassword, hashPassword, verifyPassword } from '../../../src/server/auth/passwords.ts';

test('bcrypt at cost 12; unknown users are checked against a dummy hash', async () => {
  assert.ok(bcryptCost >= 12);
  const hash = await hashPassword('correct horse battery');
  assert.match(hash, /^\$2b\$12\$/);
  assert.equal(await verifyPassword('correct horse battery', hash), true);
  assert.equal(await verifyPassword('wrong horse battery', hash), false);
  assert.equal(await verifyPassword('correct horse battery', undefined), false);
  assert.equal(await verifyPassword('', undefined), false);
});

test('password policy and generated passwords', () => {
  assert.throws(() => checkPasswordPolicy('short'), /at least 12/);
  assert.throws(() => checkPasswordPolicy('é'.repeat(40)), /at most 72 bytes/);
  const passwords = new Set(Array.from({ length: 100 }, () => generatePassword()));
  assert.equal(passwords.size, 100);
  for (const p of passwords) {
    assert.equal(p.length, 20);
    checkPasswordPolicy(p);
  }
});
