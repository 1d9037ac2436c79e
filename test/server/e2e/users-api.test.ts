import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runCanota } from '../../support/canota-process.ts';
import { admin, employee, loggedIn, startTestServer } from '../support/server.ts';
import { csrfTokenIn } from '../support/web-client.ts';

test('users over the API: an admin session lists, adds (a generated password answered once) and removes; tokens and employees cannot', async (t) => {
  const server = await startTestServer(t);
  const boss = await loggedIn(server, admin);
  const csrf = csrfTokenIn((await boss.fetch('/')).text);
  const json = { 'content-type': 'application/json', 'x-csrf-token': csrf };
  const add = (body: object, headers: Record<string, string> = json) => boss.fetch('/api/v1/users', { method: 'POST', headers, body: JSON.stringify(body) });

  const listed = (await boss.fetch('/api/v1/users')).json<{ users: { username: string; role: string }[] }>().users;
  assert.deepEqual(listed.map((u) => `${u.username}:${u.role}`), ['alice:admin', 'erin:employee']);

  const made = await add({ username: 'frank', role: 'employee' });
  assert.equal(made.status, 201, made.text);
  assert.equal(made.headers['cache-control'], 'no-store');
  const { password } = made.json<{ password: string }>();
  assert.ok(password.length >= 16, 'a generated password, shown once');
  assert.equal((await server.client().login('frank', password)).status, 302, 'the new user logs in with it');
  const own = await add({ username: 'gina', role: 'admin', password: 'gina-password-123' });
  assert.equal(own.status, 201);
  assert.equal(own.json().password, undefined, 'a given password is not echoed');

  assert.equal((await add({ username: 'frank', role: 'employee' })).status, 409);
  assert.equal((await add({ username: 'bad name', role: 'employee' })).status, 400);
  assert.match(String((await add({ username: 'hank', role: 'admin', password: 'short' })).json().error), /at least 12 characters/);
  assert.equal((await add({ username: 'ivan', role: 'root' })).status, 400);
  assert.equal((await add({ username: 'jane', role: 'employee' }, { 'content-type': 'application/json' })).status, 403, 'no CSRF token');

  const worker = await loggedIn(server, employee);
  assert.equal((await worker.fetch('/api/v1/users')).status, 403);
  const token = JSON.parse((await runCanota(['token', 'create', 'everything', '--scope', 'releases:write,vehicles:write,deployments:write,audit:read', '--json', '--data-dir', server.dataDir])).stdout) as { token: string };
  const byToken = await server.client().fetch('/api/v1/users', {
    method: 'POST', headers: { authorization: `Bearer ${token.token}`, 'content-type': 'application/json' }, body: JSON.stringify({ username: 'mallory', role: 'admin' }),
  });
  assert.equal(byToken.status, 403, 'no token makes users, whatever its scopes');

  const remove = (name: string) => boss.fetch(`/api/v1/users/${name}`, { method: 'DELETE', headers: { 'x-csrf-token': csrf } });
  assert.equal((await remove('frank')).status, 204);
  assert.equal((await server.client().login('frank', password)).status, 401);
  assert.equal((await remove('frank')).status, 404);
  assert.equal((await remove('alice')).status, 400, 'not yourself');
  const audited = (await server.auditLines()).filter((a) => a.event === 'user.add' || a.event === 'user.remove').filter((a) => a.outcome === 'ok')
    .map((a) => `${a.event} ${a.subject} by ${a.actor}`);
  assert.deepEqual(audited, ['user.add frank by alice', 'user.add gina by alice', 'user.remove frank by alice']);
});
