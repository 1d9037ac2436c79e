import { test } from 'node:test';
import assert from 'node:assert/strict';
import { admin, employee, loggedIn, startTestServer } from '../support/server.ts';
import { csrfTokenIn } from '../support/web-client.ts';
import { image } from '../support/images.ts';

test('roles: admin changes, employee only looks, anonymous API calls get 401', async (t) => {
  const server = await startTestServer(t);
  const boss = await loggedIn(server, admin);
  assert.equal((await boss.upload('ecu.bin', image('firmware bytes'), { ecu: 'EDT', firmware_version: '1.0.0' })).status, 200);

  await t.test('an admin checks out a stored file with /upload/<filename>', async () => {
    const response = await boss.fetch('/upload/ecu.bin');
    assert.equal(response.status, 200);
    assert.deepEqual(response.body, image('firmware bytes'));
    assert.match(String(response.headers['content-disposition']), /attachment; filename\*=UTF-8''ecu\.bin/);
    assert.equal((await boss.fetch('/upload/missing.bin')).status, 404);
  });

  await t.test('an employee sees the list but no upload form, and every change is 403 and audited', async () => {
    const worker = await loggedIn(server, employee);
    const home = await worker.fetch('/');
    assert.equal(home.status, 200);
    assert.match(home.text, /ecu\.bin/);
    assert.doesNotMatch(home.text, /action="\/upload"/);
    const token = csrfTokenIn(home.text);

    const upload = await worker.upload('sneaky.bin', 'x', {}, { csrf: token });
    assert.equal(upload.status, 403);
    assert.match(String(upload.json().error), /admin/);
    assert.equal((await worker.fetch('/upload/ecu.bin', { headers: { accept: 'application/json' } })).status, 403);
    assert.equal((await worker.fetch('/audit')).status, 403);
    assert.equal((await worker.fetch('/users')).status, 403);
    assert.equal((await worker.fetch('/users', { form: { username: 'eve', role: 'admin', password: 'eve-password-123', csrf_token: token } })).status, 403);
    const releases = (await worker.fetch('/api/v1/releases')).json<{ releases: unknown[] }>().releases;
    assert.equal(releases.length, 1, 'the refused upload stored nothing');

    const denied = (await server.auditLines()).filter((a) => a.outcome === 'denied' && a.actor === employee.username);
    assert.deepEqual(new Set(denied.map((a) => a.event)), new Set(['upload', 'checkout', 'access', 'user.add']));
  });

  await t.test('without a session: API routes answer 401 JSON, pages redirect to /login', async () => {
    const anonymous = server.client();
    const upload = await anonymous.upload('x.bin', 'x', {}, { csrf: 'none' });
    assert.equal(upload.status, 401);
    assert.deepEqual(upload.json(), { error: 'login required' });
    assert.ok((await server.auditLines()).some((a) => a.event === 'upload' && a.outcome === 'denied' && a.actor === null &&
      (a.details as { reason: string }).reason === 'not logged in'), 'an anonymous upload attempt is audited');
    const api = await anonymous.fetch('/api/v1/releases');
    assert.equal(api.status, 401);
    assert.match(String(api.headers['content-type']), /application\/json/);
    assert.equal((await anonymous.fetch('/upload/ecu.bin', { headers: { accept: 'application/json' } })).status, 401);
    for (const page of ['/', '/audit', '/users']) {
      const response = await anonymous.fetch(page);
      assert.equal(response.status, 302, page);
      assert.equal(response.headers.location, '/login');
    }
  });

  await t.test('an admin manages users in the UI', async () => {
    const page = await boss.fetch('/users');
    const token = csrfTokenIn(page.text);
    const added = await boss.fetch('/users', { form: { username: 'frank', role: 'employee', password: 'frank-password-12', csrf_token: token } });
    assert.equal(added.status, 303);
    assert.match((await boss.fetch('/users')).text, /frank/);
    const short = await boss.fetch('/users', { form: { username: 'gina', role: 'employee', password: 'short', csrf_token: token } });
    assert.equal(short.status, 400);
    assert.match(short.text, /at least 12 characters/);
    const frank = await loggedIn(server, { username: 'frank', role: 'employee', password: 'frank-password-12' });
    assert.equal((await frank.fetch('/')).status, 200);
    assert.equal((await boss.fetch('/users/remove', { form: { username: 'frank', csrf_token: token } })).status, 303);
    assert.equal((await server.client().login('frank', 'frank-password-12')).status, 401);
    const events = (await server.auditLines()).filter((a) => a.subject === 'frank').map((a) => a.event);
    assert.deepEqual(events, ['user.add', 'user.remove']);
  });
});
