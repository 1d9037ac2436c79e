import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { sign, unsign } from '@fastify/cookie';
import { admin, loggedIn, startTestServer } from '../server/support/server.ts';

// The attacker has read the database (a backup, a replica, a leaked dump) and the data dir's session
// secret, so cookies can be signed: all that is missing is a live session id, and the table must not hold one.
test('a session id read from the database is no cookie: the table holds only hashes', async (t) => {
  const server = await startTestServer(t);
  const victim = await loggedIn(server, admin);
  assert.equal((await victim.fetch('/')).status, 200, 'the admin is logged in');

  const secret = (await readFile(join(server.dataDir, 'session-secret'), 'utf8')).trim();
  const cookieId = unsign(decodeURIComponent(victim.cookies.get('canota_session')!), secret).value;
  assert.ok(cookieId, 'the cookie is signed with the data dir secret');

  const database = new BetterSqlite3(server.databaseFile, { readonly: true });
  const stored = database.prepare('select id from sessions').all() as Array<{ id: string }>;
  database.close();
  assert.ok(stored.length >= 1, 'the session lives in the database');
  assert.ok(stored.every((row) => row.id !== cookieId), 'the cookie\'s id is not stored as such');

  for (const { id } of stored) {
    const thief = server.client();
    thief.cookies.set('canota_session', encodeURIComponent(sign(id, secret)));
    const page = await thief.fetch('/', { headers: { accept: 'text/html' } });
    assert.equal(page.status, 302, 'the stored value, signed as a cookie, is no session');
    assert.equal(page.headers.location, '/login');
    const api = await thief.fetch('/api/v1/vehicles', { headers: { accept: 'application/json' } });
    assert.equal(api.status, 401);
  }
  assert.equal((await victim.fetch('/')).status, 200, 'the admin\'s own cookie still works');
});
