import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '../../../src/logging/logger.ts';
import { openServerData } from '../../../src/server/start.ts';
import { apiTokens } from '../../../src/server/tokens/api-tokens.ts';
import { runCanota } from '../../support/canota-process.ts';
import { admin, employee, loggedIn, startTestServer, type TestServer } from '../support/server.ts';
import { csrfTokenIn } from '../support/web-client.ts';
import { image } from '../support/images.ts';

/** `canota token create` against the server's data dir, as an operator on its machine would run it. */
async function createToken(server: TestServer, name: string, scope: string, extra: string[] = []): Promise<string> {
  const run = await runCanota(['token', 'create', name, '--scope', scope, '--json', '--data-dir', server.dataDir, ...extra]);
  assert.equal(run.code, 0, run.stderr);
  const made = JSON.parse(run.stdout) as { name: string; token: string; scopes: string[] };
  assert.equal(made.name, name);
  assert.match(made.token, /^cat_[A-Za-z0-9_-]{43}$/);
  return made.token;
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

test('API tokens: a pipeline publishes with releases:write and no browser session; scopes, revocation and expiry are enforced and audited', async (t) => {
  const server = await startTestServer(t);
  const pipeline = server.client();
  const publisher = await createToken(server, 'ci-release', 'releases:write');
  const reader = await createToken(server, 'fleet-dashboard', 'vehicles:read', ['--expires-in', '30d']);

  await t.test('releases:write uploads without a session or CSRF token, and lists (write includes read)', async () => {
    const upload = await pipeline.upload('edt-2.0.0.bin', image('EDT 2.0.0'), { ecu: 'EDT', firmware_version: '2.0.0' }, { csrf: null, headers: bearer(publisher) });
    assert.equal(upload.status, 200, upload.text);
    assert.equal(pipeline.cookies.size, 0, 'a token request gets no session cookie');
    // The versioned route: the same upload, 201 Created.
    const published = await pipeline.upload('cgw-1.1.0.bin', image('CGW 1.1.0'), { ecu: 'CGW', firmware_version: '1.1.0' }, { csrf: null, headers: bearer(publisher), path: '/api/v1/releases' });
    assert.equal(published.status, 201, published.text);
    assert.equal(published.json<{ release: { ecu: string; uploaded_by: string } }>().release.uploaded_by, 'token:ci-release');
    const list = await pipeline.fetch('/api/v1/releases', { headers: bearer(publisher) });
    assert.equal(list.status, 200);
    assert.deepEqual(list.json<{ releases: { filename: string }[] }>().releases.map((r) => r.filename), ['cgw-1.1.0.bin', 'edt-2.0.0.bin']);
    const uploaded = (await server.auditLines()).find((a) => a.event === 'upload' && a.outcome === 'ok');
    assert.equal(uploaded?.actor, 'token:ci-release');
  });

  await t.test('a token without the scope gets 403, audited, and changes nothing', async () => {
    const upload = await pipeline.upload('evil.bin', image('evil'), { ecu: 'EDT', firmware_version: '9.9.9' }, { csrf: null, headers: bearer(reader) });
    assert.equal(upload.status, 403);
    assert.match(String(upload.json().error), /lacks the scope releases:write \(it has vehicles:read\)/);
    const withdraw = await pipeline.fetch('/api/v1/releases/1/withdraw', { method: 'POST', headers: { ...bearer(reader), 'content-type': 'application/json' }, body: '{}' });
    assert.equal(withdraw.status, 403);
    assert.equal((await pipeline.fetch('/api/v1/releases', { headers: bearer(reader) })).status, 403);
    assert.equal((await pipeline.fetch('/api/v1/vehicles', { headers: bearer(reader) })).status, 200);
    const denied = (await server.auditLines()).filter((a) => a.outcome === 'denied' && a.actor === 'token:fleet-dashboard');
    assert.deepEqual(denied.map((a) => a.event), ['upload', 'release.withdraw', 'access']);
    const releases = (await pipeline.fetch('/api/v1/releases', { headers: bearer(publisher) })).json<{ releases: unknown[] }>().releases;
    assert.equal(releases.length, 2, 'nothing was stored by the refused upload');
  });

  await t.test('vehicles:write registers a vehicle over the API; its token works for that vehicle only', async () => {
    const provisioner = await createToken(server, 'factory-line', 'vehicles:write');
    const register = (body: object) => pipeline.fetch('/api/v1/vehicles', {
      method: 'POST', headers: { ...bearer(provisioner), 'content-type': 'application/json' }, body: JSON.stringify(body),
    });
    const made = await register({ vin: 'KMHTEST0000000001' });
    assert.equal(made.status, 201, made.text);
    assert.equal(made.headers['cache-control'], 'no-store');
    const vehicle = made.json<{ vin: string; token: string; rotated: boolean }>();
    assert.equal(vehicle.rotated, false);
    assert.match(vehicle.token, /^cvt_/);
    assert.equal((await register({ vin: 'KMHTEST0000000001' })).status, 409);
    assert.equal((await register({ vin: 'not a vin' })).status, 400);
    const rotated = await register({ vin: 'KMHTEST0000000001', rotate: true });
    assert.equal(rotated.status, 200);
    assert.notEqual(rotated.json<{ token: string }>().token, vehicle.token);
    // A vehicle's token is not an API token, and an API token is not a vehicle's.
    assert.equal((await pipeline.fetch('/api/v1/vehicles', { headers: bearer(vehicle.token) })).status, 401);
    assert.equal((await pipeline.fetch('/api/v1/releases/latest', { headers: bearer(provisioner) })).status, 401);
    const listed = await pipeline.fetch('/api/v1/vehicles', { headers: bearer(provisioner) });
    assert.deepEqual(listed.json<{ vehicles: { vin: string }[] }>().vehicles.map((v) => v.vin), ['KMHTEST0000000001']);
  });

  await t.test('unknown, malformed, revoked and expired tokens get 401 with WWW-Authenticate, each audited', async () => {
    const unknown = await pipeline.fetch('/api/v1/releases', { headers: bearer(apiTokens.newToken()) });
    assert.equal(unknown.status, 401);
    assert.deepEqual(unknown.json(), { error: 'unknown API token' });
    assert.match(String(unknown.headers['www-authenticate']), /^Bearer realm="canota-api", error="invalid_token"$/);
    assert.equal((await pipeline.fetch('/api/v1/releases', { headers: { authorization: 'Basic YWxpY2U6eA==' } })).status, 401);

    const revoke = await runCanota(['token', 'revoke', 'ci-release', '--data-dir', server.dataDir]);
    assert.equal(revoke.code, 0, revoke.stderr);
    assert.equal(revoke.stdout.trim(), 'revoked ci-release');
    const revoked = await pipeline.upload('late.bin', image('late'), {}, { csrf: null, headers: bearer(publisher) });
    assert.equal(revoked.status, 401);
    assert.deepEqual(revoked.json(), { error: 'the API token "ci-release" was revoked' });

    // A token past its expiry, as the database holds it after its time is up.
    const stale = apiTokens.newToken();
    const { storage } = await openServerData(server.dataDir, undefined, createLogger({ name: 'test', level: 'silent' }));
    try {
      await storage.apiTokens.add({ name: 'stale', tokenHash: apiTokens.hash(stale)!, scopes: ['releases:read'], by: 'test', now: Date.now() - 10_000, expiresAt: Date.now() - 1000 });
    } finally {
      await storage.close();
    }
    const expired = await pipeline.fetch('/api/v1/releases', { headers: bearer(stale) });
    assert.equal(expired.status, 401);
    assert.match(String(expired.json().error), /^the API token "stale" expired at 20\d\d-/);

    const refusals = (await server.auditLines()).filter((a) => a.event === 'token.auth').map((a) => (a.details as { reason: string }).reason);
    // The first: the vehicle's token sent to the management API above.
    assert.deepEqual(refusals, ['unknown token', 'unknown token', 'malformed Authorization header', 'revoked', 'expired']);
    const list = await runCanota(['token', 'list', '--json', '--data-dir', server.dataDir]);
    const states = Object.fromEntries((JSON.parse(list.stdout) as { name: string; state: string; last_used_at: string | null }[]).map((v) => [v.name, v.state]));
    assert.deepEqual(states, { 'ci-release': 'revoked', 'fleet-dashboard': 'active', 'factory-line': 'active', stale: 'expired' });
  });

  await t.test('an admin session manages tokens over the API; employees and tokens cannot', async () => {
    const boss = await loggedIn(server, admin);
    const csrf = csrfTokenIn((await boss.fetch('/')).text);
    const json = { 'content-type': 'application/json' };
    const made = await boss.fetch('/api/v1/tokens', {
      method: 'POST', headers: json, body: JSON.stringify({ name: 'from-ui', scopes: ['audit:read', 'releases:read'], expires_in_days: 7, csrf_token: csrf }),
    });
    assert.equal(made.status, 201, made.text);
    const body = made.json<{ token: string; scopes: string[]; expires_at: string; state: string }>();
    assert.deepEqual(body.scopes, ['releases:read', 'audit:read']);
    assert.equal(body.state, 'active');
    assert.ok(Math.abs(Date.parse(body.expires_at) - (Date.now() + 7 * 86_400_000)) < 60_000);
    assert.equal((await pipeline.fetch('/api/v1/releases', { headers: bearer(body.token) })).status, 200);
    const audit = await pipeline.fetch('/api/v1/audit?event=token.create', { headers: bearer(body.token) });
    assert.equal(audit.status, 200, audit.text);
    const page = audit.json<{ entries: { subject: string; actor: string; details: { scopes: string[] } }[]; next_before: number | null }>();
    assert.deepEqual(page.entries[0], { ...page.entries[0], subject: 'from-ui', actor: 'alice' });
    assert.deepEqual(page.entries[0]!.details.scopes, ['releases:read', 'audit:read']);
    assert.equal(page.next_before, null);
    assert.equal((await pipeline.fetch('/api/v1/audit', { headers: bearer(reader) })).status, 403);

    const noCsrf = await boss.fetch('/api/v1/tokens', { method: 'POST', headers: json, body: JSON.stringify({ name: 'x', scopes: 'releases:read' }) });
    assert.equal(noCsrf.status, 403);
    const badScope = await boss.fetch('/api/v1/tokens', { method: 'POST', headers: json, body: JSON.stringify({ name: 'y', scopes: 'root', csrf_token: csrf }) });
    assert.equal(badScope.status, 400);
    assert.match(String(badScope.json().error), /unknown scope "root"/);
    const taken = await boss.fetch('/api/v1/tokens', { method: 'POST', headers: json, body: JSON.stringify({ name: 'from-ui', scopes: 'releases:read', csrf_token: csrf }) });
    assert.equal(taken.status, 409);

    const byToken = await pipeline.fetch('/api/v1/tokens', { method: 'POST', headers: { ...json, ...bearer(body.token) }, body: JSON.stringify({ name: 'z', scopes: 'releases:write' }) });
    assert.equal(byToken.status, 403, 'a token cannot mint a wider token');
    assert.equal((await pipeline.fetch('/api/v1/tokens', { headers: bearer(body.token) })).status, 403);
    const worker = await loggedIn(server, employee);
    assert.equal((await worker.fetch('/api/v1/tokens')).status, 403);

    const listed = (await boss.fetch('/api/v1/tokens')).json<{ tokens: { name: string; last_used_at: string | null; token?: string }[] }>().tokens;
    assert.deepEqual(listed.map((v) => v.name), ['ci-release', 'fleet-dashboard', 'factory-line', 'stale', 'from-ui']);
    assert.ok(listed.every((v) => v.token === undefined), 'no token is ever listed');
    assert.ok(listed.find((v) => v.name === 'from-ui')!.last_used_at, 'its use was recorded');

    const revoke = await boss.fetch('/api/v1/tokens/from-ui/revoke', { method: 'POST', headers: json, body: JSON.stringify({ csrf_token: csrf }) });
    assert.equal(revoke.status, 200);
    assert.equal(revoke.json().state, 'revoked');
    assert.equal((await boss.fetch('/api/v1/tokens/from-ui/revoke', { method: 'POST', headers: json, body: JSON.stringify({ csrf_token: csrf }) })).status, 200);
    assert.equal((await boss.fetch('/api/v1/tokens/nope/revoke', { method: 'POST', headers: json, body: JSON.stringify({ csrf_token: csrf }) })).status, 404);
    assert.equal((await pipeline.fetch('/api/v1/releases', { headers: bearer(body.token) })).status, 401);

    // The CLI writes its entries straight into the database's audit log, the server prints its own too: read the log.
    const { storage } = await openServerData(server.dataDir, undefined, createLogger({ name: 'test', level: 'silent' }));
    const entries = await storage.audit.list({ limit: 1000 }).finally(() => storage.close());
    const lifecycle = entries.reverse().filter((a) => a.event === 'token.create' || a.event === 'token.revoke')
      .map((a) => `${a.event} ${a.subject} by ${a.actor}`);
    assert.deepEqual(lifecycle, [
      'token.create ci-release by cli', 'token.create fleet-dashboard by cli', 'token.create factory-line by cli',
      'token.revoke ci-release by cli', 'token.create from-ui by alice', 'token.revoke from-ui by alice',
    ]);
  });
});
