import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LoginThrottle } from '../../../src/server/auth/login-throttle.ts';
import { testStorage } from '../support/storage.ts';

test('five failures lock the address and the username for the lock time; success clears', async (t) => {
  const storage = await testStorage(t);
  let now = 0;
  const throttle = new LoginThrottle(storage.loginFailures, { maxFailures: 5, lockMs: 60_000, windowMs: 60_000 }, () => now);
  for (let i = 0; i < 4; i++) assert.equal(await throttle.recordFailure('10.0.0.1', 'ghost'), undefined);
  assert.equal(await throttle.lockedUntil('10.0.0.1', 'ghost'), undefined);
  assert.equal(await throttle.recordFailure('10.0.0.1', 'ghost'), 60_000, 'the fifth failure locks');
  assert.equal(await throttle.lockedUntil('10.0.0.1', 'someone-else'), 60_000, 'the address is locked');
  assert.equal(await throttle.lockedUntil('10.9.9.9', 'ghost'), 60_000, 'the username is locked, even from elsewhere and though it does not exist');
  now = 60_001;
  assert.equal(await throttle.lockedUntil('10.0.0.1', 'ghost'), undefined, 'locks end');

  for (let i = 0; i < 4; i++) await throttle.recordFailure('10.0.0.2', 'alice');
  await throttle.recordSuccess('10.0.0.2', 'alice');
  assert.equal(await throttle.recordFailure('10.0.0.2', 'alice'), undefined, 'the count started again after a success');

  for (let i = 0; i < 4; i++) await throttle.recordFailure('10.0.0.3', 'bob');
  now += 120_000;
  assert.equal(await throttle.recordFailure('10.0.0.3', 'bob'), undefined, 'old failures fall out of the window');
});
