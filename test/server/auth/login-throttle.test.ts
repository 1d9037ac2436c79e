import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LoginThrottle } from '../../../src/server/auth/login-throttle.ts';
import { openStorage, type Storage } from '../../../src/server/storage/index.ts';
import { testStorage } from '../support/storage.ts';
import { postgresMissing, startPostgres } from '../support/postgres.ts';

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

test('failures spread over longer than the lock still count (the window is not the lock length)', async (t) => {
  // The cause of a flaky e2e test: with --login-lock 2 the window was 2 s too, so three failures that a
  // loaded machine spread over more than 2 s never added up to a lock.
  const storage = await testStorage(t);
  let now = 0;
  const throttle = new LoginThrottle(storage.loginFailures, { maxFailures: 3, lockMs: 2000 }, () => now);
  assert.equal(await throttle.recordFailure('10.0.0.1', 'alice'), undefined);
  now = 1900;
  assert.equal(await throttle.recordFailure('10.0.0.1', 'alice'), undefined);
  now = 4200;
  assert.equal(await throttle.recordFailure('10.0.0.1', 'alice'), 6200, 'the third failure locks, 4.2 s after the first');
});

/**
 * Parallel guesses against one address and one username, over several rounds: each key must count every
 * guess, and the guess that is the fifth for the address must also be the fifth for the username (one
 * guess locks both), whatever order the database serves the parallel statements in.
 */
async function parallelGuesses(storage: Storage): Promise<void> {
  const throttle = new LoginThrottle(storage.loginFailures, { maxFailures: 5, lockMs: 60_000 });
  for (let round = 0; round < 8; round++) {
    const [ip, user] = [`10.0.0.${round}`, `carol${round}`];
    const locks = await Promise.all(Array.from({ length: 5 }, () => throttle.recordFailure(ip, user)));
    assert.equal(locks.filter((lock) => lock !== undefined).length, 1, `round ${round}: exactly the fifth failure locks`);
    assert.notEqual(await throttle.lockedUntil(ip, 'nobody'), undefined, 'the address is locked');
    assert.notEqual(await throttle.lockedUntil('10.1.1.1', user), undefined, 'the username is locked');
  }
}

test('concurrent failures are all counted: parallel guesses do not slip under the limit', async (t) => {
  await parallelGuesses(await testStorage(t));
});

test('the same on a real PostgreSQL (two server instances)', { skip: postgresMissing }, async (t) => {
  const postgres = await startPostgres(t);
  const url = await postgres.createDatabase();
  const [one, two] = await Promise.all([openStorage(url), openStorage(url)]);
  try {
    await parallelGuesses(one);
    const throttles = [one, two].map((storage) => new LoginThrottle(storage.loginFailures, { maxFailures: 10, lockMs: 60_000 }));
    const locks = await Promise.all(Array.from({ length: 10 }, (_, i) => throttles[i % 2]!.recordFailure('10.0.0.8', 'dave')));
    assert.equal(locks.filter((lock) => lock !== undefined).length, 1, 'counted across instances');
  } finally {
    await Promise.all([one.close(), two.close()]);
  }
});
