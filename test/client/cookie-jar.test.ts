import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CookieJar } from '../../src/client/cookie-jar.ts';

test('keeps the seed\'s session cookie, replaces it, and forgets it when the server expires it', () => {
  const jar = new CookieJar();
  assert.equal(jar.header(), undefined);
  jar.store('session=abc; HttpOnly; Path=/');
  jar.store(['other=1; Path=/', 'session=def; HttpOnly; Path=/']);
  assert.equal(jar.header(), 'session=def; other=1');
  jar.store('session=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/');
  assert.equal(jar.header(), 'other=1');
  jar.store('other=2; Expires=Thu, 01 Jan 1970 00:00:00 GMT');
  assert.equal(jar.header(), undefined);
  jar.store(undefined);
  jar.store('garbage without equals');
  assert.equal(jar.header(), undefined);
});
