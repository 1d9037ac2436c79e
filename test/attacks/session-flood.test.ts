import { test } from 'node:test';
import assert from 'node:assert/strict';
import BetterSqlite3 from 'better-sqlite3';
import { admin, startTestServer } from '../server/support/server.ts';

const requests = 2000;
const parallel = 16;

// Anyone who can reach the login page must not be able to make the server store something per request:
// the sessions table would grow without bound (disk, and every lookup slower). The login form's CSRF
// token is bound to a cookie instead of a session row (auth/login-csrf.ts).
test('2000 cookieless GET /login do not grow the sessions table; logging in still works', async (t) => {
  const server = await startTestServer(t);
  const database = new BetterSqlite3(server.databaseFile, { readonly: true });
  t.after(() => database.close());
  const rows = () => (database.prepare('select count(*) as n from sessions').get() as { n: number }).n;
  const before = rows();

  const flooder = server.client();
  let sent = 0;
  const statuses = new Map<number, number>();
  await Promise.all(Array.from({ length: parallel }, async () => {
    while (sent < requests) {
      sent++;
      // No cookie is ever sent back: each request is a new visitor.
      const response = await flooder.fetch('/login');
      flooder.cookies.clear();
      statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
    }
  }));
  assert.deepEqual([...statuses], [[200, requests]], 'every request got the login form');
  const grown = rows() - before;
  assert.ok(grown <= 2, `the sessions table grew by ${grown} rows`);

  // Failed logins and refused CSRF tokens store no session either (the lockout bounds their counts).
  for (let i = 0; i < 3; i++) assert.equal((await server.client().login(admin.username, `wrong-${i}`)).status, 401);
  assert.equal((await server.client().fetch('/login', { form: { username: admin.username, password: 'x', csrf_token: 'forged' } })).status, 403);
  assert.equal(rows() - before, grown, 'failed logins stored no session');

  const visitor = server.client();
  const login = await visitor.login(admin.username, admin.password);
  assert.equal(login.status, 302, 'the login form still works');
  assert.equal((await visitor.fetch('/')).status, 200);
  assert.equal(rows() - before, grown + 1, 'a login stores one session');
});
