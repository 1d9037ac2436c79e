import { test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { FormData } from 'undici';
import { admin, employee, loggedIn, startTestServer } from '../support/server.ts';
import { csrfTokenIn } from '../support/web-client.ts';
import { image } from '../support/images.ts';

test('login, sessions and logout', async (t) => {
  // Room for the timing comparison's failed attempts before the lockout (tested on its own below).
  const server = await startTestServer(t, { args: ['--login-max-failures', '20'] });

  await t.test('the login page has a form with a hidden csrf_token bound to an HttpOnly, SameSite=Strict cookie, and no session', async () => {
    const client = server.client();
    const page = await client.fetch('/login');
    assert.equal(page.status, 200);
    assert.match(page.text, /<form method="post" action="\/login">/);
    assert.match(page.text, /name="username"/);
    assert.match(page.text, /name="password" type="password"/);
    assert.ok(csrfTokenIn(page.text).length > 20);
    const cookie = client.setCookieHeaders.find((c) => c.startsWith('canota_login_csrf='))!;
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Strict/);
    assert.match(cookie, /Path=\/login/);
    assert.doesNotMatch(cookie, /Secure/, 'plain HTTP: no Secure flag (it would stop the browser from sending it back)');
    assert.ok(!client.setCookieHeaders.some((c) => c.startsWith('canota_session=')), 'no session before a login');
  });

  await t.test('a good login redirects to / with a new session id: a planted session cookie is not kept', async () => {
    const planted = (await loggedIn(server, employee)).cookies.get('canota_session')!;
    const client = server.client();
    const token = await client.csrfToken('/login');
    client.cookies.set('canota_session', planted);
    const response = await client.fetch('/login', { form: { username: admin.username, password: admin.password, csrf_token: token } });
    assert.equal(response.status, 302);
    assert.equal(response.headers.location, '/');
    const after = client.cookies.get('canota_session');
    assert.ok(after);
    assert.notEqual(after.split('.')[0], planted.split('.')[0], 'new session id after login');
    const cookie = client.setCookieHeaders.find((c) => c.startsWith('canota_session='))!;
    assert.match(cookie, /HttpOnly/);
    assert.match(cookie, /SameSite=Strict/);
    assert.ok(!client.cookies.has('canota_login_csrf'), 'the login form\'s cookie is cleared after the login');
    const home = await client.fetch('/');
    assert.equal(home.status, 200);
    assert.match(home.text, /alice \(admin\)/);
  });

  await t.test('unknown user and wrong password: same status, same message, similar time', async () => {
    const attempt = async (username: string) => {
      const client = server.client();
      const token = await client.csrfToken('/login');
      const started = performance.now();
      const response = await client.fetch('/login', { form: { username, password: 'wrong-password-123', csrf_token: token } });
      return { response, ms: performance.now() - started };
    };
    // Alternating, three of each, compared by median: one slow moment on a shared machine decides nothing.
    const unknowns = [];
    const wrongs = [];
    for (let i = 0; i < 3; i++) {
      unknowns.push(await attempt('nobody-here'));
      wrongs.push(await attempt(employee.username));
    }
    const median = (runs: Array<{ ms: number }>) => runs.map((r) => r.ms).sort((a, b) => a - b)[1]!;
    const unknown = { response: unknowns[0]!.response, ms: median(unknowns) };
    const wrong = { response: wrongs[0]!.response, ms: median(wrongs) };
    assert.equal(unknown.response.status, 401);
    assert.equal(wrong.response.status, 401);
    const message = (text: string) => /<p class="error" role="alert">([^<]*)<\/p>/.exec(text)?.[1];
    assert.equal(message(unknown.response.text), 'Invalid username or password.');
    assert.equal(message(wrong.response.text), message(unknown.response.text));
    // Both run a full bcrypt comparison (cost 12, ~0.1-0.5 s): an unknown user is not answered early.
    assert.ok(unknown.ms > 50 && wrong.ms > 50, `${unknown.ms} / ${wrong.ms} ms`);
    const ratio = unknown.ms / wrong.ms;
    assert.ok(ratio > 0.33 && ratio < 3, `unknown ${unknown.ms.toFixed(0)} ms vs wrong ${wrong.ms.toFixed(0)} ms`);
  });

  await t.test('passwords are stored as bcrypt hashes with cost >= 12', () => {
    const db = new Database(server.databaseFile, { readonly: true });
    try {
      const rows = db.prepare('select username, password_hash from users').all() as Array<{ username: string; password_hash: string }>;
      for (const row of rows) {
        const cost = Number(/^\$2[aby]\$(\d\d)\$/.exec(row.password_hash)?.[1]);
        assert.ok(cost >= 12, `${row.username}: ${row.password_hash.slice(0, 7)}`);
        assert.ok(!row.password_hash.includes(admin.password));
      }
    } finally {
      db.close();
    }
  });

  await t.test('logout ends the session on the server: the old cookie no longer works', async () => {
    const client = await loggedIn(server, admin);
    const stolen = client.cookies.get('canota_session')!;
    const home = await client.fetch('/');
    const token = csrfTokenIn(home.text);
    const out = await client.fetch('/logout', { form: { csrf_token: token } });
    assert.equal(out.status, 302);
    assert.equal(out.headers.location, '/login');

    const replay = server.client();
    replay.cookies.set('canota_session', stolen);
    const again = await replay.fetch('/');
    assert.equal(again.status, 302, 'the replayed cookie is not a session any more');
    assert.equal(again.headers.location, '/login');
    const api = await replay.fetch('/api/v1/releases');
    assert.equal(api.status, 401);
    assert.ok((await server.auditLines()).some((a) => a.event === 'logout' && a.actor === admin.username));
  });

  await t.test('GET /logout asks for confirmation without a token, and logs out with ?csrf_token', async () => {
    const client = await loggedIn(server, admin);
    const confirm = await client.fetch('/logout');
    assert.equal(confirm.status, 200);
    assert.match(confirm.text, /Log out\?/);
    assert.equal((await client.fetch('/')).status, 200, 'still logged in');
    const out = await client.fetch(`/logout?csrf_token=${encodeURIComponent(csrfTokenIn(confirm.text))}`);
    assert.equal(out.status, 302);
    assert.equal((await client.fetch('/')).status, 302, 'logged out');
  });

  await t.test('logins are audited, ok and failed', async () => {
    const lines = (await server.auditLines());
    assert.ok(lines.some((a) => a.event === 'login' && a.outcome === 'ok' && a.actor === admin.username && a.ip === '127.0.0.1'));
    assert.ok(lines.some((a) => a.event === 'login' && a.outcome === 'failed' && a.actor === 'nobody-here'));
  });
});

test('CSRF: a state-changing request without the right token is 403 and audited', async (t) => {
  const server = await startTestServer(t);
  const client = server.client();
  await client.csrfToken('/login');

  for (const token of [undefined, 'forged-token', '']) {
    const form: Record<string, string> = { username: admin.username, password: admin.password };
    if (token !== undefined) form.csrf_token = token;
    const response = await client.fetch('/login', { form });
    assert.equal(response.status, 403, `token ${token}`);
    assert.match(response.text, /CSRF/);
  }
  const other = server.client();
  const foreignToken = await other.csrfToken('/login');
  assert.equal((await client.fetch('/login', { form: { username: admin.username, password: admin.password, csrf_token: foreignToken } })).status, 403,
    'a token from another session does not work');

  const session = await loggedIn(server, admin);
  assert.equal((await session.fetch('/logout', { form: { csrf_token: 'nope' } })).status, 403);
  assert.equal((await session.fetch('/')).status, 200, 'a forged logout does not log out');
  const upload = await session.upload('x.bin', 'data', {}, { csrf: null });
  assert.equal(upload.status, 403);
  assert.match(String(upload.json().error), /CSRF/);
  const headerToken = csrfTokenIn((await session.fetch('/')).text);
  const form = new FormData();
  form.append('file', new Blob([image('via header')]), 'header.bin');
  const viaHeader = await session.fetch('/upload', { method: 'POST', body: form, headers: { 'x-csrf-token': headerToken } });
  assert.equal(viaHeader.status, 200, 'the X-CSRF-Token header works too');
  assert.equal((await session.fetch('/users', { form: { username: 'mallory', role: 'admin', password: 'mallory-password' } })).status, 403);

  const csrfAudits = (await server.auditLines()).filter((a) => a.event === 'csrf' && a.outcome === 'denied');
  assert.ok(csrfAudits.length >= 7, `audited ${csrfAudits.length}`);
  assert.ok(csrfAudits.some((a) => a.subject === 'POST /upload' && a.actor === admin.username));
});

test('failed logins lock the address and the username out, visibly in the audit log', async (t) => {
  // A lock far longer than the test: what is asserted here must not depend on how fast a loaded machine
  // answers (with a 2-second lock, a stall between the third and the fourth attempt let the lock expire).
  const server = await startTestServer(t, { args: ['--login-max-failures', '3', '--login-lock', '600'] });
  const client = server.client();
  const statuses: number[] = [];
  for (let i = 0; i < 4; i++) {
    const token = await client.csrfToken('/login');
    statuses.push((await client.fetch('/login', { form: { username: admin.username, password: 'wrong-password-x', csrf_token: token } })).status);
  }
  assert.deepEqual(statuses, [401, 401, 401, 429]);
  const token = await client.csrfToken('/login');
  const locked = await client.fetch('/login', { form: { username: admin.username, password: admin.password, csrf_token: token } });
  assert.equal(locked.status, 429, 'even the right password is refused while locked');
  assert.match(locked.text, /Too many failed login attempts/);
  const retryAfter = Number(locked.headers['retry-after']);
  assert.ok(retryAfter > 500 && retryAfter <= 600, `Retry-After ${retryAfter}`);
  const other = server.client();
  assert.equal((await other.login(employee.username, employee.password)).status, 429, 'the address is locked for every username');
  const audits = (await server.auditLines()).filter((a) => a.event === 'login');
  assert.ok(audits.some((a) => a.outcome === 'failed' && typeof (a.details as { locked_until?: string }).locked_until === 'string'));
  assert.ok(audits.some((a) => a.outcome === 'denied' && (a.details as { reason: string }).reason === 'locked out'));
});

test('a lockout ends after --login-lock seconds', async (t) => {
  const server = await startTestServer(t, { args: ['--login-max-failures', '3', '--login-lock', '1'] });
  const client = server.client();
  for (let i = 0; i < 3; i++) {
    assert.equal((await client.login(admin.username, 'wrong-password-x')).status, 401);
  }
  // However long those attempts took, the third failure locked (failures count for 15 minutes) until the
  // time the audit log names; waiting past it is all the test relies on.
  const lock = (await server.auditLines()).find((a) => a.event === 'login' && (a.details as { locked_until?: string }).locked_until);
  assert.ok(lock, 'the third failure locked the address and the username');
  const lockedUntil = Date.parse((lock.details as { locked_until: string }).locked_until);
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, lockedUntil - Date.now()) + 100));
  assert.equal((await server.client().login(admin.username, admin.password)).status, 302, 'the lock ends');
});

test('sessions end after the idle timeout (--session-idle)', async (t) => {
  const server = await startTestServer(t, { args: ['--session-idle', '3'] });
  const client = await loggedIn(server, admin);
  await new Promise((resolve) => setTimeout(resolve, 1800));
  assert.equal((await client.fetch('/')).status, 200, 'activity within the timeout keeps it alive');
  await new Promise((resolve) => setTimeout(resolve, 1800));
  assert.equal((await client.fetch('/')).status, 200, 'the timeout counts from the last request');
  await new Promise((resolve) => setTimeout(resolve, 3300));
  const expired = await client.fetch('/');
  assert.equal(expired.status, 302);
  assert.equal(expired.headers.location, '/login');
});
